// Package faults holds the fault-injection suite: it runs real molen
// processes (the binary is built once per test run), injects faults — kill
// -9 of the edge or the hub — while the simulator publishes at a known
// rate, and checks every sequence number end to end.
//
// go test ./internal/faults/ runs the short variant (a few cycles, CI);
// MOLEN_FAULTS_CYCLES=100 go test -run Faults -v ./internal/faults/ runs a
// long one and prints the figures.
package faults
