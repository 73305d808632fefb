// Package vda5050test is a VDA 5050 v2 peer for tests and the simulator:
// a small AGV model (AGV) that drives its route, drains and charges its
// battery, carries loads and now and then reports an error, with the state,
// visualization and connection messages it publishes, and an in-process MQTT
// broker (Broker, mochi) to publish them on.
package vda5050test
