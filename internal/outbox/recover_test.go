package outbox

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// fill appends n records of size bytes (weight i%5) and closes the log. It
// returns the segment files, oldest first.
func fill(t testing.TB, dir string, opts Options, n, size int) []string {
	t.Helper()
	l := openLog(t, dir, opts)
	for i := range n {
		mustAppend(t, l, payload(fmt.Sprint(i), size), i%5)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return segFiles(t, dir)
}

func quarantined(t testing.TB, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, quarantineDir, "*"))
	return m
}

// checkDiskBytes checks that Stats.DiskBytes is what the segment files
// hold: no stray bytes past the last record.
func checkDiskBytes(t testing.TB, l *Log, dir string) {
	t.Helper()
	var sum int64
	for _, p := range segFiles(t, dir) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		sum += fi.Size()
	}
	if got := l.Stats().DiskBytes; got != sum {
		t.Errorf("DiskBytes = %d, segment files hold %d", got, sum)
	}
}

func modify(t testing.TB, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkIntact verifies that the records l returns carry the data fill
// wrote for their seq, and appends one more record.
func checkIntact(t testing.TB, l *Log, size int) []Entry {
	t.Helper()
	es := readAll(t, l, 0)
	for _, e := range es {
		if i := int(e.Seq - 1); i < 1000 && !bytes.Equal(e.Data, payload(fmt.Sprint(i), size)) {
			t.Errorf("record %d: data differs", e.Seq)
		}
	}
	if _, err := l.Append(context.Background(), []byte("after"), 1); err != nil {
		t.Errorf("Append after recovery: %v", err)
	}
	return es
}

func TestTornTail(t *testing.T) {
	const n, size = 10, 100
	rec := int64(recHeaderLen + size)
	tests := []struct {
		name        string
		mod         func([]byte) []byte
		wantRecords int   // records left
		wantCorrupt int64 // records counted corrupt
		wantNext    uint64
	}{
		{"mid header", func(b []byte) []byte { return b[:len(b)-int(rec)+10] }, 9, 0, 10},
		{"mid data", func(b []byte) []byte { return b[:len(b)-30] }, 9, 0, 10},
		{"only length", func(b []byte) []byte { return b[:len(b)-int(rec)+4] }, 9, 0, 10},
		{"zeros appended", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }, 10, 0, 11},
		{"length past end", func(b []byte) []byte { return append(b, 0xff, 0, 0, 0, 1, 2, 3, 4, 5) }, 10, 0, 11},
		{"bad checksum", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, 9, 1, 11},
		{"header only segment", func(b []byte) []byte { return b[:segHeaderLen] }, 0, 0, 1},
		{"partial magic", func(b []byte) []byte { return b[:3] }, 0, 0, 1},
		{"zero length file", func(b []byte) []byte { return nil }, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			segs := fill(t, dir, Options{}, n, size)
			if len(segs) != 1 {
				t.Fatalf("%d segments, want 1", len(segs))
			}
			modify(t, segs[0], tt.mod)
			l := openLog(t, dir, Options{})
			st := l.Stats()
			if got := st.Dropped[ReasonCorrupt].Records; got != tt.wantCorrupt {
				t.Errorf("corrupt records %d, want %d", got, tt.wantCorrupt)
			}
			if seq := mustAppend(t, l, nil, 0); seq != tt.wantNext {
				t.Errorf("next seq %d, want %d", seq, tt.wantNext)
			}
			es := readAll(t, l, 0)
			if len(es) != tt.wantRecords+1 {
				t.Errorf("%d records, want %d", len(es), tt.wantRecords+1)
			}
			for _, e := range es[:len(es)-1] {
				if !bytes.Equal(e.Data, payload(fmt.Sprint(e.Seq-1), size)) {
					t.Errorf("record %d: data differs", e.Seq)
				}
			}
			if q := quarantined(t, dir); len(q) != 0 {
				t.Errorf("torn tail went to quarantine: %v", q)
			}
			checkDiskBytes(t, l, dir)
			// The repair is complete: a second open finds nothing more.
			l.Close()
			l = openLog(t, dir, Options{})
			if got := l.Stats().Dropped[ReasonCorrupt].Records; got != tt.wantCorrupt {
				t.Errorf("after second open: corrupt records %d, want %d", got, tt.wantCorrupt)
			}
			if got := len(readAll(t, l, 0)); got != tt.wantRecords+1 {
				t.Errorf("after second open: %d records, want %d", got, tt.wantRecords+1)
			}
		})
	}
}

// TestCorruptMiddle damages a record in the middle of a segment: the rest of
// the segment goes to quarantine, is counted, and the log continues.
func TestCorruptMiddle(t *testing.T) {
	const n, size = 40, 100
	rec := recHeaderLen + size
	opts := Options{SegmentBytes: 10 * int64(rec), MaxBytes: 1 << 20} // 10 records per segment
	tests := []struct {
		name        string
		seg         int // index of the damaged segment
		record      int // index of the damaged record in it
		mod         func(b []byte, off int)
		wantCorrupt DropCount
		wantSeqs    int    // records left
		wantNext    uint64 // seq of the next Append
	}{
		{
			name: "data bit flip", seg: 1, record: 4,
			mod:         func(b []byte, off int) { b[off+recHeaderLen+3] ^= 0x10 },
			wantCorrupt: DropCount{Records: 6, Points: 1 + 2 + 3 + 4 + 0, Bytes: 6 * int64(rec)},
			wantSeqs:    34, wantNext: 41,
		},
		{
			name: "impossible length", seg: 0, record: 0,
			mod:         func(b []byte, off int) { b[off+3] = 0x7f },
			wantCorrupt: DropCount{Records: 10, Points: 1 + 2 + 3 + 4 + 1 + 2 + 3 + 4, Bytes: 10 * int64(rec)},
			wantSeqs:    30, wantNext: 41,
		},
		{
			name: "wrong seq", seg: 2, record: 9,
			mod: func(b []byte, off int) {
				b[off+8]++ // the seq, and a checksum to match
				h := decodeHeader(b[off:])
				copy(b[off+4:], appendRecord(nil, h.seq, h.time, h.weight, b[off+recHeaderLen:off+rec])[4:8])
			},
			wantCorrupt: DropCount{Records: 1, Points: 0, Bytes: int64(rec)},
			wantSeqs:    39, wantNext: 41,
		},
		{
			// In the last segment: seqs the lost bytes could have held are skipped.
			name: "last segment", seg: 3, record: 2,
			mod:         func(b []byte, off int) { b[off+recHeaderLen] ^= 1 },
			wantCorrupt: DropCount{Records: 8, Points: 3 + 4 + 0 + 1 + 2 + 3 + 4, Bytes: 8 * int64(rec)},
			wantSeqs:    32, wantNext: 33 + 8*uint64(rec)/recHeaderLen + 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			segs := fill(t, dir, opts, n, size)
			if len(segs) != 4 {
				t.Fatalf("%d segments, want 4", len(segs))
			}
			modify(t, segs[tt.seg], func(b []byte) []byte {
				tt.mod(b, segHeaderLen+tt.record*rec)
				return b
			})
			l := openLog(t, dir, opts)
			if got := l.Stats().Dropped[ReasonCorrupt]; got != tt.wantCorrupt {
				t.Errorf("corrupt %+v, want %+v", got, tt.wantCorrupt)
			}
			if q := quarantined(t, dir); len(q) != 1 {
				t.Errorf("quarantine holds %v, want one file", q)
			} else if fi, err := os.Stat(q[0]); err != nil || fi.Size() != tt.wantCorrupt.Bytes && fi.Size() != tt.wantCorrupt.Bytes+segHeaderLen {
				t.Errorf("quarantined file: %v, %v", fi, err)
			}
			es := checkIntact(t, l, size)
			checkDiskBytes(t, l, dir)
			if len(es) != tt.wantSeqs {
				t.Errorf("%d records left, want %d", len(es), tt.wantSeqs)
			}
			if next := l.Stats().LastSeq; next != tt.wantNext {
				t.Errorf("seq of the Append after recovery %d, want %d", next, tt.wantNext)
			}
			// The repair is stable: a second open finds nothing new.
			l.Close()
			l = openLog(t, dir, opts)
			if got := l.Stats().Dropped[ReasonCorrupt]; got != tt.wantCorrupt {
				t.Errorf("after second open: corrupt %+v, want %+v", got, tt.wantCorrupt)
			}
			if len(quarantined(t, dir)) != 1 {
				t.Error("second open quarantined more")
			}
		})
	}
}

// TestTruncatedMiddle cuts a segment that is not the last at a record
// boundary, so that it looks whole: the records missing before the next
// segment are counted (their points and bytes are unknown), once.
func TestTruncatedMiddle(t *testing.T) {
	const n, size = 40, 100
	rec := recHeaderLen + size
	opts := Options{SegmentBytes: 10 * int64(rec), MaxBytes: 1 << 20}
	dir := t.TempDir()
	segs := fill(t, dir, opts, n, size)
	modify(t, segs[1], func(b []byte) []byte { return b[:segHeaderLen+4*rec] })
	want := DropCount{Records: 6}
	for i := range 2 {
		l := openLog(t, dir, opts)
		if got := l.Stats().Dropped[ReasonCorrupt]; got != want {
			t.Errorf("open %d: corrupt %+v, want %+v", i+1, got, want)
		}
		if es := readAll(t, l, 0); len(es) != n-6 {
			t.Errorf("open %d: %d records, want %d", i+1, len(es), n-6)
		}
		l.Close()
	}
}

// TestGarbage opens directories with damaged or foreign files: Open must
// succeed, and the log must work.
func TestGarbage(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	tests := []struct {
		name  string
		files map[string][]byte
	}{
		{"random segment", map[string][]byte{segName(1): random(5000)}},
		{"random after magic", map[string][]byte{segName(1): append(segMagic[:], random(5000)...)}},
		{"random middle segment", map[string][]byte{segName(50): random(300), segName(100): segMagic[:]}},
		{"zero length middle segment", map[string][]byte{segName(3): nil, segName(9): segMagic[:]}},
		{"zero length segments", map[string][]byte{segName(3): nil, segName(9): nil}},
		{"all 0xff header", map[string][]byte{segName(1): append(segMagic[:], bytes.Repeat([]byte{0xff}, 100)...)}},
		{"garbage cursor", map[string][]byte{cursorFile: random(cursorLen)}},
		{"short cursor", map[string][]byte{cursorFile: []byte("1")}},
		{"huge cursor", map[string][]byte{cursorFile: random(1 << 16)}},
		{"garbage id", map[string][]byte{idFile: random(40)}},
		{"empty id", map[string][]byte{idFile: nil}},
		{"leftover tmp", map[string][]byte{cursorFile + tmpSuffix: random(10)}},
		{"foreign files", map[string][]byte{"README": []byte("hi"), "1.seg": random(10), "0000000000000000000x.seg": nil}},
		{"segment zero", map[string][]byte{segName(0): random(100)}},
		{"max seq", map[string][]byte{"18446744073709551615.seg": segMagic[:]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			os.Mkdir(filepath.Join(dir, segName(77)+"x"), 0o755)
			exercise(t, dir)
		})
	}
}

// exercise opens dir, appends, reads, acknowledges, reopens and checks the
// log is consistent. It fails the test instead of panicking on any problem.
func exercise(t testing.TB, dir string) {
	t.Helper()
	opts := Options{SegmentBytes: 200, MaxBytes: 1 << 20}
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer l.Close()
	before := readAll(t, l, 0)
	var seqs []uint64
	for i := range 5 {
		seq, err := l.Append(context.Background(), payload(fmt.Sprint(i), 60), 1)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if len(seqs) > 0 && seq != seqs[len(seqs)-1]+1 {
			t.Fatalf("seqs %v then %d", seqs, seq)
		}
		seqs = append(seqs, seq)
	}
	if len(before) > 0 && seqs[0] <= before[len(before)-1].Seq {
		t.Fatalf("new seq %d not after old %d", seqs[0], before[len(before)-1].Seq)
	}
	es := readAll(t, l, seqs[0])
	if len(es) != 5 {
		t.Fatalf("read %d new records, want 5", len(es))
	}
	for i, e := range es {
		if e.Seq != seqs[i] || !bytes.Equal(e.Data, payload(fmt.Sprint(i), 60)) {
			t.Fatalf("record %d differs", e.Seq)
		}
	}
	if err := l.Ack(seqs[1]); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l2, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer l2.Close()
	if got := readAll(t, l2, seqs[1]+1); len(got) != 3 || got[0].Seq != seqs[2] {
		t.Fatalf("after reopen read %d records", len(got))
	}
	if st := l2.Stats(); st.Dropped[ReasonCorrupt].Records < 0 || st.LastSeq != seqs[4] {
		t.Fatalf("stats after reopen: %+v", st)
	}
}

// TestRandomDamage writes random bytes over random places of real segments,
// many times.
func TestRandomDamage(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 30 {
		dir := t.TempDir()
		segs := fill(t, dir, Options{SegmentBytes: 1000, MaxBytes: 1 << 20}, 30, r.IntN(200))
		for range 1 + r.IntN(4) {
			path := segs[r.IntN(len(segs))]
			modify(t, path, func(b []byte) []byte {
				switch r.IntN(3) {
				case 0:
					if len(b) > 0 {
						b = b[:r.IntN(len(b))]
					}
				default:
					for range 1 + r.IntN(8) {
						if len(b) > 0 {
							b[r.IntN(len(b))] = byte(r.Uint32())
						}
					}
				}
				return b
			})
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) { exercise(t, dir) })
	}
}

// FuzzOpen feeds arbitrary bytes as the last segment and as the cursor.
func FuzzOpen(f *testing.F) {
	valid := appendRecord(append([]byte(nil), segMagic[:]...), 3, 1, 1, []byte("hello"))
	f.Add(valid, []byte(nil))
	f.Add(valid[:len(valid)-2], cursor{acked: 2, floor: 0}.encode())
	f.Add(append(valid, make([]byte, 30)...), cursor{acked: 9}.encode())
	f.Add(segMagic[:], []byte{1, 2, 3})
	f.Add([]byte{}, cursor{acked: 1 << 62, floor: 1 << 62}.encode())
	f.Fuzz(func(t *testing.T, seg, cur []byte) {
		dir := t.TempDir()
		first := appendRecord(append([]byte(nil), segMagic[:]...), 1, 1, 1, []byte("a"))
		first = appendRecord(first, 2, 1, 1, []byte("b"))
		files := map[string][]byte{segName(1): first, segName(3): seg}
		if cur != nil {
			files[cursorFile] = cur
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		exercise(t, dir)
	})
}
