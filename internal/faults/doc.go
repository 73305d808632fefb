// Package faults holds the fault-injection suite of the store-and-forward
// guarantee. It runs real molen processes (the binary is built once per test
// run), drives the simulator (internal/sim) at a known rate against the
// edge's MQTT listener, injects a fault, and then checks every point end to
// end: each point of each tick the simulator saw acknowledged (PUBACK) must
// be at the hub exactly once — except points a buffer bound dropped, whose
// number must equal the edge's drop counter.
//
// Points are identified by series and tick: all points of a tick carry the
// tick's timestamp, and the machine's seq point tells which tick that is.
//
// The scenarios, one test each:
//
//	TestFaultsKillEdge      kill -9 of the edge, many times, while it ingests and forwards
//	TestFaultsKillHub       kill -9 of the hub while a batch is on its way, restart in place
//	TestFaultsNetwork       through a TCP proxy written in the test (proxy_test.go): hub
//	                        unreachable, requests never answered, RST in the middle of a
//	                        request or after the hub answered, a slow link
//	TestFaultsHubOutage     an outage longer than the buffer holds: drop-oldest (missing =
//	                        counter), reject-new (devices keep their data), catch-up rate
//	TestFaultsDiskFull      the edge on a 4 MiB tmpfs (root; prlimit --fsize otherwise)
//	TestFaultsCorruptOutbox a flipped bit, an impossible length or a truncation in the
//	                        outbox of a killed edge: quarantined, counted, the rest forwarded
//	TestFaultsCatchUp       a long outage the buffer holds whole, then the time to catch
//	                        up with live data still arriving, and the forwarding rate
//
// Each test checks that its fault really happened (the proxy counts what it
// did, the hub was killed with a batch in flight, the buffer overflowed),
// so that a fault that silently misses cannot pass.
//
// Lost and duplicated are counted per point: every point of a tick carries
// the tick's time, and the machine's seq point says which tick it is; a
// point whose seq point is missing belongs to an acknowledged tick when its
// time is at most that of the simulator's last acknowledged tick
// (sim.AckedTime), else to the tick it was publishing when it stopped.
//
// # Running it
//
// go test ./internal/faults/ runs the short variant (CI; the scenarios run
// in parallel, about two minutes on 2 vCPUs). go test -v prints a table of
// the figures at the end. Environment:
//
//	MOLEN_FAULTS_LONG=1     the long variant: more cycles, longer outages, higher rates,
//	                        scenarios one after the other (about 15 minutes; the figures
//	                        in docs/reliability.md)
//	MOLEN_FAULTS_CYCLES=n   kills of the edge and of the hub (default 3, long 100 and 30)
//	MOLEN_FAULTS_OUTAGE=d   the outage of TestFaultsCatchUp (default 5s, long 5m)
//	MOLEN_FAULTS_RATE=r     its simulator ticks per second, 42 points each (default 100, long 240)
//	MOLEN_FAULTS_REPORT=f   also write the table of figures (Markdown) to file f
//	MOLEN_FAULTS_BIN=path   test this molen binary instead of building one
//
// For example:
//
//	MOLEN_FAULTS_LONG=1 go test -timeout 30m -v -run Faults ./internal/faults/
//	MOLEN_FAULTS_OUTAGE=1h MOLEN_FAULTS_RATE=240 go test -timeout 3h -v -run CatchUp ./internal/faults/
package faults
