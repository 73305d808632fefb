package sim

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// Inputs returns an edge inputs file (docs/connectors.md) that reads what
// the Server serves onto the same UNS paths as the Sim publishes over MQTT:
// a modbus input for the packaging machine (its state arrives as
// TagStateNumber), an mtconnect input for the cnc mill, an s7 input for the injection press
// (its state arrives as TagStateNumber too), an opcua input subscribed to the compressor, a
// sparkplug input for the robot cell, a vda5050 input for the AGV
// (asset AGV()) and a files input for the leak tester's folder. Polls and publishing intervals follow the tick rate, at
// least 100 ms.
func (s *Server) Inputs() []byte {
	every := max(s.interval, 100*time.Millisecond).Round(time.Millisecond)
	site := s.cfg.Site
	var b strings.Builder
	fmt.Fprintf(&b, `# Edge inputs for the simulated factory's protocol counterparts, written by molen
# (docs/sim.md). Each machine reaches the edge over exactly one protocol.
inputs:
`)
	if s.packaging != nil {
		fmt.Fprintf(&b, `  # %s over Modbus TCP: holding registers, big-endian, high word first.
  - modbus:
      url: tcp://%s
      unit_id: 1
      poll_interval: %s
      registers:
`, ModbusMachine, dialAddr(s.addrs.Modbus), every)
		for _, r := range registers(s.packaging.kind) {
			fmt.Fprintf(&b, "        - {path: %s/%s, address: %d, type: %s}\n", s.packaging.asset, r.tag, r.addr, r.typ)
		}
	}
	if s.mill != nil {
		fmt.Fprintf(&b, `  # %s from its MTConnect agent: samples, events, and the system condition as events.
  - mtconnect:
      url: http://%s
      device: %s
      poll_interval: %s
      items:
`, MTConnectMachine, dialAddr(s.addrs.MTConnect), MTConnectDevice, every)
		for _, tag := range s.mill.kind.tags() {
			fmt.Fprintf(&b, "        - {id: %s, path: %s/%s, type: %s}\n", tag, s.mill.asset, tag, mtconnectType(tag))
		}
		fmt.Fprintf(&b, "        - {id: %s, path: %s} # its events are the mill's\n", MTConnectCondition, s.mill.asset)
	}
	if s.press != nil {
		fmt.Fprintf(&b, `  # %s on a Siemens S7 PLC: data block %d, big-endian.
  - s7:
      address: %s
      rack: 0
      slot: 1
      poll_interval: %s
      items:
`, S7Machine, S7DB, dialAddr(s.addrs.S7), every)
		for _, it := range s7Items(s.press.kind) {
			fmt.Fprintf(&b, "        - {path: %s/%s, db: %d, byte: %d, type: %s}\n", s.press.asset, it.tag, S7DB, it.byte, it.typ)
		}
	}
	if s.compressor != nil {
		fmt.Fprintf(&b, `  # %s over OPC UA, by subscription.
  - opcua:
      endpoint: opc.tcp://%s
      security_mode: None
      publishing_interval: %s
      sampling_interval: %s
      nodes:
`, OPCUAMachine, dialAddr(s.addrs.OPCUA), every, every)
		for _, tag := range s.compressor.kind.tags() {
			fmt.Fprintf(&b, "        - {id: %q, path: %s/%s}\n", OPCUANodeID(OPCUAMachine, tag), s.compressor.asset, tag)
		}
	}
	if s.cell != nil {
		fmt.Fprintf(&b, `  # %s: device %s of Sparkplug B edge node %s in group %s.
  - sparkplug:
      url: tcp://%s
      groups:
        - group: %s
          path: "{group}/%s/%s/{device}/{metric}"
`, SparkplugMachine, SparkplugMachine, SparkplugNode, site, dialAddr(s.addrs.Sparkplug), site, Area, Line)
	}
	if s.agv != nil {
		fmt.Fprintf(&b, `  # The AGV over VDA 5050 v2: %s.
  - vda5050:
      url: tcp://%s
      manufacturers: [%s]
      visualization: false
      site: %s
      area: %s
`, s.AGV(), dialAddr(s.addrs.VDA5050), AGVManufacturer, site, Area)
	}
	if s.leak != nil {
		fmt.Fprintf(&b, `  # The %s's CSV files, %d parts each, from the folder it writes them to.
  - files:
      dir: %q
      pattern: "leak-*.csv"
      delimiter: ";"
      series: %s
      time_column: time
      settle: 0s
      poll_interval: %s
`, LeakTester, DropRows, s.leak.dir, s.leak.asset, every)
	}
	return []byte(b.String())
}

// dialAddr turns a listening address into one to connect to: an
// unspecified host (all interfaces) becomes the loopback address.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
