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
//	TestFaultsKillEdge              kill -9 of the edge, many times, while it ingests and forwards
//	TestFaultsKillEdgeWhileDropping kill -9 of the edge at random moments while a full buffer drops
//	                                data (drop-oldest, the hub away): missing = counter after it all
//	TestFaultsKillHub               kill -9 of the hub while a batch is on its way, restart in place
//	TestFaultsNetwork               through a TCP proxy written in the test (proxy_test.go): hub
//	                                unreachable, connections reset after the hub answered or in the
//	                                middle of a request, requests never answered, a slow link
//	TestFaultsHubOutage             an outage longer than the buffer holds: drop-oldest (missing =
//	                                counter), reject-new (devices keep their data), catch-up over a
//	                                slow link
//	TestFaultsDiskFull              the edge on a small tmpfs (root; prlimit --fsize otherwise)
//	TestFaultsCorruptOutbox         a flipped bit, an impossible length or a truncation in the
//	                                outbox of a killed edge: quarantined, counted, the rest forwarded
//	TestFaultsCatchUp               a long outage the buffer holds whole, then the time to catch
//	                                up with live data still arriving, and the forwarding rate
//	TestFaultsKillReplica           kill -9 of two hub cluster replicas in turn with batches in
//	                                flight, NATS nodes in the test process (MOLEN_TEST_POSTGRES)
//	TestFaultsKillNATSNode          kill -9 of three replicas in turn, each running one of the
//	                                three NATS nodes of the uplink stream (MOLEN_TEST_POSTGRES)
//	TestFaultsPostgresRestart       a private PostgreSQL server stopped (fast, immediate) and
//	                                started under two replicas (initdb and postgres installed;
//	                                MOLEN_REQUIRE_POSTGRES_SERVER makes their absence an error)
//	TestFaultsNATSPartition         one of three NATS nodes cut off from the others (and from its
//	                                clients) through proxies on its routes, then healed
//	                                (MOLEN_TEST_POSTGRES)
//	TestFaultsKillEdgeWhileApplying kill -9 of the edge while a manifest is on trial
//	TestFaultsKillInsideApply       the edge killed (SIGKILL) at fault points inside an apply:
//	                                after desired.json is written, and between the old inputs'
//	                                stop and the new ones' start: it comes back whole in the old state
//
// The suite builds molen with -tags faultpoints: MOLEN_FAULT_KILL=<point>
// makes that binary kill itself at the named point (internal/edge
// faultpoint_on.go); other builds have no fault points.
//
// Each test checks that its fault really happened (the proxy counts what it
// did, the hub was killed with a batch in flight, the buffer overflowed),
// so that a fault that silently misses cannot pass. Phases end on
// conditions, not on time (an outage lasts until the buffer bound took
// effect), and no assertion is about how long something took: times are
// figures in the table, so a busy machine makes the suite slower, not
// red.
//
// Lost and duplicated are counted per point: every point of a tick carries
// the tick's time, and the machine's seq point says which tick it is; a
// point whose seq point is missing belongs to an acknowledged tick when its
// time is at most that of the simulator's last acknowledged tick
// (sim.AckedTime), else to the tick it was publishing when it stopped.
//
// # Running it
//
// go test ./internal/faults/ runs a representative short set in parallel:
// the kill scenarios with 3 kills each, the network faults drop and reset
// after answer, both outage policies, one disk-full and one damage variant;
// about 25 s on 2 vCPUs. go test -v prints a table of the figures at the
// end.
// Environment:
//
//	MOLEN_FAULTS_FULL=1     every scenario and variant (CI): also the hang and slow-link
//	                        network faults, reset mid-request, the slow catch-up after an
//	                        outage, the disk-full variant with the default bound, every
//	                        damage, the catch-up after an outage, and 10 kills of the edge
//	                        and of the hub and 20 kills while dropping (about 1 minute)
//	MOLEN_FAULTS_LONG=1     the long variant (implies FULL): more cycles, longer outages,
//	                        higher rates, scenarios one after the other (about 16 minutes;
//	                        the figures in docs/reliability.md)
//	MOLEN_FAULTS_CYCLES=n   kills in each kill scenario (default 3; full 10, and 20 while
//	                        dropping; long 100, and 30 of the hub)
//	MOLEN_FAULTS_OUTAGE=d   the outage of TestFaultsCatchUp (full 5s, long 5m); setting it
//	                        runs TestFaultsCatchUp outside the full suite too
//	MOLEN_FAULTS_RATE=r     its simulator ticks per second, 42 points each (full 100, long 240)
//	MOLEN_FAULTS_REPORT=f   also write the table of figures (Markdown) to file f
//	MOLEN_FAULTS_BIN=path   test this molen binary (built with -tags faultpoints) instead of building one
//
// For example:
//
//	MOLEN_FAULTS_FULL=1 go test -timeout 20m ./internal/faults/
//	MOLEN_FAULTS_LONG=1 go test -timeout 40m -v -run Faults ./internal/faults/
//	MOLEN_FAULTS_OUTAGE=1h MOLEN_FAULTS_RATE=240 go test -timeout 3h -v -run CatchUp ./internal/faults/
package faults
