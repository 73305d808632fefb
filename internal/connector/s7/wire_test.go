package s7

import (
	"errors"
	"testing"
)

func TestReadAnswer(t *testing.T) {
	items := []span{{db: 1, start: 0, count: 3}, {db: 2, start: 0, count: 2}}
	good := []byte{
		0xff, 0x04, 0x00, 24, 1, 2, 3, 0, // 3 bytes (24 bits) and a fill byte
		0xff, 0x04, 0x00, 16, 4, 5,
	}
	got, errs, err := readAnswer([]byte{fnReadVar, 2}, good, items)
	if err != nil || string(got[0]) != "\x01\x02\x03" || string(got[1]) != "\x04\x05" || errs[0] != nil || errs[1] != nil {
		t.Fatalf("good answer: %q %v %v", got, errs, err)
	}
	refused := []byte{0x0a, 0x00, 0x00, 0x00, 0xff, 0x04, 0x00, 16, 4, 5}
	got, errs, err = readAnswer([]byte{fnReadVar, 2}, refused, items)
	var ie ItemError
	if err != nil || !errors.As(errs[0], &ie) || ie.Reason() != "object_does_not_exist" || string(got[1]) != "\x04\x05" {
		t.Fatalf("refused item: %q %v %v", got, errs, err)
	}

	bad := []struct {
		name   string
		params []byte
		data   []byte
	}{
		{"wrong function", []byte{fnSetup, 2}, good},
		{"wrong count", []byte{fnReadVar, 3}, good},
		{"no data", []byte{fnReadVar, 2}, nil},
		{"short item header", []byte{fnReadVar, 2}, good[:10]},
		{"item longer than the answer", []byte{fnReadVar, 2}, append(append([]byte{}, good[:8]...), 0xff, 0x04, 0x01, 0x00, 4, 5)},
		{"fewer bytes than asked for", []byte{fnReadVar, 2}, []byte{0xff, 0x04, 0x00, 16, 1, 2, 0xff, 0x04, 0x00, 16, 4, 5}},
		{"bytes after the last item", []byte{fnReadVar, 2}, append(append([]byte{}, good...), 9)},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := readAnswer(tt.params, tt.data, items); !errors.Is(err, errBadFrame) {
				t.Errorf("error %v, want a bad frame", err)
			}
		})
	}
}

func TestAck(t *testing.T) {
	answer := func(mod func(b []byte)) []byte {
		b := []byte{0x02, cotpDT, 0x80, s7ProtocolID, rosctrAckDat, 0, 0, 0, 7, 0, 2, 0, 1, 0, 0, fnReadVar, 1, 0xaa}
		mod(b)
		return b
	}
	if p, d, err := ack(answer(func([]byte) {}), 7); err != nil || len(p) != 2 || len(d) != 1 {
		t.Fatalf("good: %v %v %v", p, d, err)
	}
	for name, mod := range map[string]func(b []byte){
		"not data":     func(b []byte) { b[1] = cotpCC },
		"protocol id":  func(b []byte) { b[3] = 0x72 },
		"job":          func(b []byte) { b[4] = rosctrJob },
		"reference":    func(b []byte) { b[8] = 8 },
		"param length": func(b []byte) { b[10] = 3 },
	} {
		if _, _, err := ack(answer(mod), 7); !errors.Is(err, errBadFrame) {
			t.Errorf("%s: error %v, want a bad frame", name, err)
		}
	}
	var s7err *S7Error
	if _, _, err := ack(answer(func(b []byte) { b[13], b[14] = 0x81, 0x04 }), 7); !errors.As(err, &s7err) || s7err.Class != 0x81 {
		t.Errorf("error class: %v, want an S7Error", err)
	}
}

func TestPlan(t *testing.T) {
	f := func(db uint16, byte int, typ Type) field {
		return field{series: "s/a/x" + string(rune('a'+byte%26)) + string(rune('a'+byte/26)), db: db, byte: byte, typ: typ}
	}
	fields := []field{f(1, 0, Real), f(1, 4, Real), f(1, 30, Int), f(1, 60, Int), f(2, 0, LReal)}
	reqs := plan(fields, 240, 16, nil)
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	var got []span
	for _, b := range reqs[0] {
		got = append(got, b.span)
	}
	want := []span{{1, 0, 8}, {1, 30, 2}, {1, 60, 2}, {2, 0, 8}}
	if len(got) != len(want) {
		t.Fatalf("blocks %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("block %d: %v, want %v", i, got[i], want[i])
		}
	}
	// A long run is cut at what one answer holds (240 - 18 bytes), and
	// many blocks take several requests.
	var long []field
	for i := range 100 {
		long = append(long, f(3, 4*i, DWord))
	}
	reqs = plan(long, 240, 0, nil)
	total := 0
	for _, r := range reqs {
		size := ackHeader + 2
		for _, b := range r {
			if b.count > 240-18 {
				t.Errorf("block of %d bytes", b.count)
			}
			size += 4 + b.count + b.count%2
			total += len(b.fields)
		}
		if size > 240 {
			t.Errorf("answer of %d bytes for a PDU of 240", size)
		}
	}
	if total != 100 || len(reqs) < 2 {
		t.Errorf("%d fields in %d requests", total, len(reqs))
	}
	// A field read alone is not joined.
	reqs = plan(fields, 240, 16, map[string]bool{fields[1].series: true})
	if n := len(reqs[0]); n != 5 {
		t.Errorf("%d blocks with one field alone, want 5", n)
	}
}

// FuzzReadAnswer: no answer makes the decoding of a read var panic, and an
// accepted one gives every item its bytes or an error.
func FuzzReadAnswer(f *testing.F) {
	f.Add([]byte{fnReadVar, 2}, []byte{0xff, 0x04, 0x00, 24, 1, 2, 3, 0, 0xff, 0x04, 0x00, 16, 4, 5})
	f.Add([]byte{fnReadVar, 2}, []byte{0x0a, 0x00, 0x00, 0x00, 0xff, 0x09, 0x00, 2, 4, 5})
	items := []span{{db: 1, start: 0, count: 3}, {db: 2, start: 0, count: 2}}
	f.Fuzz(func(t *testing.T, params, data []byte) {
		got, errs, err := readAnswer(params, data, items)
		if err != nil {
			return
		}
		for i := range items {
			if errs[i] == nil && len(got[i]) != items[i].count {
				t.Fatalf("item %d: %d bytes, asked for %d", i, len(got[i]), items[i].count)
			}
		}
	})
}
