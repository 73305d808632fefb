// Package connector is the contract between the edge and its inputs: the
// protocols it reads machine data from (OPC UA, Modbus, MQTT brokers,
// Sparkplug B, VDA 5050, …). Each protocol is a sub-package that registers an
// Input kind in init; binaries compose them by blank import. The shared
// conformance suite in connectortest checks every kind the same way.
package connector
