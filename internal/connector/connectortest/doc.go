// Package connectortest is the conformance suite every connector runs. A
// connector's test describes how to run a real peer of its protocol
// in-process (a Modbus server, an OPC UA server, an MQTT broker) in a
// Harness, and Run checks the connector.Input contract against it:
//
//   - read: it connects and delivers the values the peer produces;
//   - sink_refuses: points the sink refused are not lost (Redelivery);
//   - peer_restart: when the peer goes away the status says Disconnected
//     with a last_error, and once it is back the input reconnects by itself
//     (Connects goes up) and delivers again;
//   - bad_data: a bad frame or value is counted in Status.Rejected under a
//     named reason, and reading goes on;
//   - close: Run returns nil soon after its context ends, whether connected,
//     waiting for the peer or waiting on the sink, and leaves no goroutine
//     behind;
//   - status: every Status seen along the way is sane (known state, counts
//     never negative, last_error and its time set together, Points equal to
//     what the sink accepted once Run returned).
//
// The suite waits for conditions with a deadline and never asserts on
// elapsed time. It counts goroutines, so connector tests that call Run must
// not use t.Parallel.
package connectortest
