// Package pipeline is where the edge processes points between decoding and
// the durable outbox. A Stage receives each accepted batch and returns what
// goes on towards the hub. Today the edge runs Passthrough; declarative
// pipelines of operators plug in here.
package pipeline
