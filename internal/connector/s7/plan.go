package s7

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/molen-io/molen/internal/uns"
)

// block is one read var item and the fields it holds.
type block struct {
	span
	fields []field
}

// request is the blocks read in one read var request.
type request []block

// plan joins the fields into blocks, per data block, while the holes
// between them are at most maxGap bytes and a block fits one answer of pdu
// bytes (a field in alone stays in a block of its own); then packs the blocks into as few requests as the PDU allows, both
// the request (a 12-byte item each) and its answer (a 4-byte header, the
// bytes and a fill byte each).
func plan(fields []field, pdu, maxGap int, alone map[string]bool) []request {
	fs := slices.Clone(fields)
	slices.SortStableFunc(fs, func(a, b field) int {
		return cmp.Or(cmp.Compare(a.db, b.db), cmp.Compare(a.byte, b.byte))
	})
	maxBytes := pdu - ackHeader - 2 - 4 // one item alone in an answer
	var blocks []block
	for _, f := range fs {
		end := f.byte + f.typ.size()
		if n := len(blocks); n > 0 {
			b := &blocks[n-1]
			bEnd := b.start + b.count
			joinable := !alone[f.series] && !alone[b.fields[len(b.fields)-1].series]
			if joinable && b.db == f.db && f.byte-bEnd <= maxGap && max(end, bEnd)-b.start <= maxBytes {
				b.count = max(end, bEnd) - b.start
				b.fields = append(b.fields, f)
				continue
			}
		}
		blocks = append(blocks, block{span: span{db: f.db, start: f.byte, count: f.typ.size()}, fields: []field{f}})
	}
	var reqs []request
	var cur request
	reqBytes, ansBytes := jobHeader+2, ackHeader+2
	for _, b := range blocks {
		ans := 4 + b.count + b.count%2
		if len(cur) > 0 && (reqBytes+itemSpec > pdu || ansBytes+ans > pdu || len(cur) == 255) {
			reqs = append(reqs, cur)
			cur, reqBytes, ansBytes = nil, jobHeader+2, ackHeader+2
		}
		cur = append(cur, b)
		reqBytes += itemSpec
		ansBytes += ans
	}
	if len(cur) > 0 {
		reqs = append(reqs, cur)
	}
	return reqs
}

// value decodes f from the bytes of its block.
func (f *field) value(b []byte) (uns.Value, error) {
	switch f.typ {
	case Bool:
		return uns.Bool(b[0]>>f.bit&1 == 1), nil
	case Byte:
		return uns.Int(int64(b[0])), nil
	case Int:
		return uns.Int(int64(int16(binary.BigEndian.Uint16(b)))), nil
	case Word:
		return uns.Int(int64(binary.BigEndian.Uint16(b))), nil
	case DInt:
		return uns.Int(int64(int32(binary.BigEndian.Uint32(b)))), nil
	case DWord:
		return uns.Int(int64(binary.BigEndian.Uint32(b))), nil
	case Real:
		return finite(float64(math.Float32frombits(binary.BigEndian.Uint32(b))))
	default:
		return finite(math.Float64frombits(binary.BigEndian.Uint64(b)))
	}
}

func finite(x float64) (uns.Value, error) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return uns.Value{}, fmt.Errorf("not a finite number: %v", x)
	}
	return uns.Float(x), nil
}
