package modbus

import (
	"cmp"
	"slices"
)

// block is one read request: count entries of one table from addr, and the
// fields decoded from them.
type block struct {
	table  table
	addr   uint16
	count  uint16
	fields []field
}

// plan groups fields into as few requests as the limits allow: fields of the
// same table are joined while the request stays within maxRegs registers
// (2000 bits for coils and discrete inputs) and the hole between two fields
// is at most maxGap registers (16*maxGap bits). Blocks come out ordered by
// table and address, so polls are deterministic.
func plan(fields []field, maxRegs, maxGap int) []block {
	sorted := slices.Clone(fields)
	slices.SortStableFunc(sorted, func(a, b field) int {
		return cmp.Or(cmp.Compare(a.table, b.table), cmp.Compare(a.addr, b.addr))
	})
	var blocks []block
	for _, f := range sorted {
		limit, gap := maxRegs, maxGap
		if f.table.bits() {
			limit, gap = MaxBitsPerRead, 16*maxGap
		}
		start, end := int(f.addr), int(f.addr)+f.span() // end is exclusive
		if n := len(blocks); n > 0 {
			b := &blocks[n-1]
			bStart, bEnd := int(b.addr), int(b.addr)+int(b.count)
			if b.table == f.table && start-bEnd <= gap && max(end, bEnd)-bStart <= limit {
				b.count = uint16(max(end, bEnd) - bStart)
				b.fields = append(b.fields, f)
				continue
			}
		}
		blocks = append(blocks, block{table: f.table, addr: f.addr, count: uint16(end - start), fields: []field{f}})
	}
	return blocks
}

// split returns one block per field of b: used when a device refuses a
// joined read (illegal data address), so that one bad address does not
// stop the good ones.
func split(b block) []block {
	out := make([]block, len(b.fields))
	for i, f := range b.fields {
		out[i] = block{table: b.table, addr: f.addr, count: uint16(f.span()), fields: []field{f}}
	}
	return out
}
