package sim

import (
	"math"
)

// TagStateNumber is the series of the Modbus state register: Modbus has no
// strings, so the state is a number, with the codes of the state
// operator's code_tag (1 running, 2 idle, 3 setup, 4 down). The demo's
// pipeline maps it back to the state tag.
const TagStateNumber = "state_number"

// stateNumbers are the state register's values.
var stateNumbers = map[string]uint16{"running": 1, "idle": 2, "setup": 3, "down": 4}

// register is one value of a machine's Modbus register map: holding
// registers from address 0, big-endian, high word first.
type register struct {
	tag  string // the machine's tag; TagStateNumber for the state
	addr uint16
	typ  string // uint16 (state), uint32 (counters, seq) or float32
}

// registers returns the register map of kind k: its tags in publishing
// order, one after the other.
func registers(k *kind) []register {
	var out []register
	addr := uint16(0)
	for _, tag := range k.tags() {
		r := register{tag: tag, addr: addr, typ: "float32"}
		switch tag {
		case tagState:
			r.tag, r.typ = TagStateNumber, "uint16"
		case tagGood, tagScrap, tagSeq:
			r.typ = "uint32"
		}
		out = append(out, r)
		addr++
		if r.typ != "uint16" {
			addr++
		}
	}
	return out
}

// publishRegisters makes the packaging machine's current values what its
// Modbus server answers. Each map is new and never changed, so the server
// reads it without a lock.
func (s *Server) publishRegisters() {
	m := s.packaging
	regs := make(map[uint16]uint16, 2*len(m.topics))
	vals := m.tagValues(nil)
	for i, r := range registers(m.kind) {
		v := vals[i].value
		switch r.typ {
		case "uint16":
			regs[r.addr] = stateNumbers[v.Str()]
		case "uint32":
			u := uint32(v.Int())
			regs[r.addr], regs[r.addr+1] = uint16(u>>16), uint16(u)
		default:
			u := math.Float32bits(float32(v.Float64()))
			regs[r.addr], regs[r.addr+1] = uint16(u>>16), uint16(u)
		}
	}
	s.modbusRegs.Store(&regs)
}
