package modbus

import (
	"fmt"
	"slices"
	"testing"
)

func TestPlan(t *testing.T) {
	reg := func(tb table, addr uint16, typ Type) field {
		return field{series: fmt.Sprintf("s/%v%d", tb, addr), table: tb, addr: addr, typ: typ}
	}
	many := func(tb table, from, n int, typ Type) []field {
		var fs []field
		step := max(typ.Words(), 1) // a bit is one entry
		for i := range n {
			fs = append(fs, reg(tb, uint16(from+i*step), typ))
		}
		return fs
	}
	// got is "table addr+count" per block.
	tests := []struct {
		name    string
		fields  []field
		maxRegs int
		maxGap  int
		want    []string
	}{
		{"adjacent join", []field{reg(holding, 0, Uint16), reg(holding, 1, Float32), reg(holding, 3, Uint16)}, 125, 0,
			[]string{"holding 0+4"}},
		{"unsorted input", []field{reg(holding, 3, Uint16), reg(holding, 0, Uint16), reg(holding, 1, Float32)}, 125, 0,
			[]string{"holding 0+4"}},
		{"gap too wide", []field{reg(holding, 0, Uint16), reg(holding, 5, Uint16)}, 125, 3, []string{"holding 0+1", "holding 5+1"}},
		{"gap within max_gap", []field{reg(holding, 0, Uint16), reg(holding, 4, Uint16)}, 125, 3, []string{"holding 0+5"}},
		{"overlap", []field{reg(holding, 0, Uint32), reg(holding, 1, Uint16)}, 125, 0, []string{"holding 0+2"}},
		{"tables apart", []field{reg(holding, 0, Uint16), reg(input, 1, Uint16), reg(coil, 2, Bool)}, 125, 10,
			[]string{"holding 0+1", "input 1+1", "coil 2+1"}},
		{"125 limit", many(holding, 0, 130, Uint16), 125, 0, []string{"holding 0+125", "holding 125+5"}},
		{"float64 does not straddle the limit", many(holding, 0, 32, Float64), 125, 0, []string{"holding 0+124", "holding 124+4"}},
		{"max_registers", many(holding, 0, 10, Uint16), 4, 0, []string{"holding 0+4", "holding 4+4", "holding 8+2"}},
		{"bits join across 16*max_gap", []field{reg(coil, 0, Bool), reg(coil, 16, Bool), reg(coil, 40, Bool)}, 125, 1,
			[]string{"coil 0+17", "coil 40+1"}},
		{"2000 bits", many(discrete, 0, 2001, Bool), 125, 0, []string{"discrete 0+2000", "discrete 2000+1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			n := 0
			for _, b := range plan(tt.fields, tt.maxRegs, tt.maxGap) {
				got = append(got, fmt.Sprintf("%v %d+%d", b.table, b.addr, b.count))
				n += len(b.fields)
				for _, f := range b.fields {
					if f.addr < b.addr || int(f.addr)+f.span() > int(b.addr)+int(b.count) {
						t.Errorf("%s at %d outside block %v %d+%d", f.series, f.addr, b.table, b.addr, b.count)
					}
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("plan = %q, want %q", got, tt.want)
			}
			if n != len(tt.fields) {
				t.Errorf("%d fields in blocks, want %d", n, len(tt.fields))
			}
		})
	}
}

func TestSplit(t *testing.T) {
	b := plan([]field{{series: "s/a", addr: 0, typ: Uint16}, {series: "s/b", addr: 1, typ: Float32}}, 125, 0)[0]
	got := split(b)
	if len(got) != 2 || got[0].addr != 0 || got[0].count != 1 || got[1].addr != 1 || got[1].count != 2 {
		t.Errorf("split = %+v", got)
	}
}
