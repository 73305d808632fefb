// Package molensvc is the Go SDK for molen services: WebAssembly modules
// that run in an edge's pipeline under the module ABI molen-svc/1
// (docs/services.md). A service implements Service and registers it in an
// init function; the module is built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o service.wasm .
//
// (or `molen service build`). The host hands the module batches of points;
// the module appends the points and events it emits to an Output. Log,
// Metric, Now, State and SetState call the host; each needs its
// capability declared in the package's manifest (log, metrics, clock,
// state), or the edge refuses to load the module.
//
// Outside GOOS=wasip1 the package builds too, with the host functions
// backed by memory, so a service's logic can be unit-tested with go test.
package molensvc
