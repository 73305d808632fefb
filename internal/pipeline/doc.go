// Package pipeline is where the edge processes points between decoding and
// the durable outbox. A Stage receives each accepted batch and returns what
// goes on towards the hub.
//
// The declarative pipelines live here: the operator contract (Operator,
// Output, Event, Config) and its registry (Register, Lookup; the operators
// themselves are in internal/operator), the YAML specification and its
// strict, path-aware loader (Parse, Load, Definition), the Runner that runs
// a Definition as a Stage (routing by UNS glob, one lock per pipeline,
// ticks, events, per-stage counters, hot reload), and Replay, the offline
// run behind 'molen pipeline test' with its JSON lines format.
package pipeline
