package sim

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/molen-io/molen/internal/connector/s7/s7test"
)

// S7DB is the data block holding the injection press's tags on its
// simulated S7 PLC.
const S7DB = 1

// s7Item is one value of the press's data block.
type s7Item struct {
	tag  string // the machine's tag; TagStateNumber for the state
	byte int
	typ  string // int (state), dint (counters, seq) or lreal
}

// s7Items returns the data block layout of kind k: its tags in publishing
// order, one after the other, as Modbus's registers are.
func s7Items(k *kind) []s7Item {
	var out []s7Item
	off := 0
	for _, tag := range k.tags() {
		it := s7Item{tag: tag, byte: off, typ: "lreal"}
		switch tag {
		case tagState:
			it.tag, it.typ = TagStateNumber, "int"
		case tagGood, tagScrap, tagSeq:
			it.typ = "dint"
		}
		out = append(out, it)
		off += map[string]int{"int": 2, "dint": 4, "lreal": 8}[it.typ]
	}
	return out
}

// publishS7 writes the press's values of its last tick into its data
// block, in one piece, so that a read sees one tick.
func (s *Server) publishS7(time.Time) {
	m := s.press
	vals := m.tagValues(nil)
	var db []byte
	for i, it := range s7Items(m.kind) {
		v := vals[i].value
		switch it.typ {
		case "int":
			db = binary.BigEndian.AppendUint16(db, uint16(stateNumbers[v.Str()]))
		case "dint":
			db = binary.BigEndian.AppendUint32(db, uint32(v.Int()))
		default:
			db = binary.BigEndian.AppendUint64(db, math.Float64bits(v.Float64()))
		}
	}
	s.plc.SetDB(S7DB, db)
}

// startS7 serves the press's data block on addr.
func startS7(addr string) (*s7test.Server, error) { return s7test.Listen(addr, 480) }
