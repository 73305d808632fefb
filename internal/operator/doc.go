// Package operator holds molen's pipeline operators, one file each: filter
// and map (expressions), deadband, counter, window, and the manufacturing
// operators state, oee, anomaly and alarm. Each registers itself with
// pipeline.Register in init; a binary gets them by importing this package
// for its side effects.
//
// Operators share these rules. Numeric operators read ints, floats and
// bools (as 0/1); a string point is counted as wrong_type and skipped, and a
// NaN or ±Inf as non_finite, so a series that changes type or carries a bad
// value never stops a pipeline. Time is event time (the points' ts), per
// series; Tick lets wall time close what input alone would leave open. In
// steady state Process does not allocate: per-series state and output names
// are made once per series and reused.
package operator
