// Package reports is the domain of what the hub computes from stored data
// for people: OEE by machine, line or site over hours, days or shifts;
// the downtime Pareto; and exports of points and events as CSV or JSON
// lines, streamed page by page. It reads internal/store, only the
// caller's organisation, and owns no tables.
package reports
