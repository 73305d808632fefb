package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/molen-io/molen/internal/clocktest"
)

// payload returns deterministic bytes of length n for key, so that a test
// can check data it did not keep.
func payload(key string, n int) []byte {
	h := fnv.New64a()
	h.Write([]byte(key))
	r := rand.New(rand.NewPCG(h.Sum64(), uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func openLog(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustAppend(t testing.TB, l *Log, data []byte, weight int) uint64 {
	t.Helper()
	seq, err := l.Append(context.Background(), data, weight)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return seq
}

// readAll reads every record from seq from, in small batches.
func readAll(t testing.TB, l *Log, from uint64) []Entry {
	t.Helper()
	var all []Entry
	for {
		es, err := l.Read(from, 7, 3000)
		if err != nil {
			t.Fatalf("Read(%d): %v", from, err)
		}
		if len(es) == 0 {
			return all
		}
		all = append(all, es...)
		from = es[len(es)-1].Seq + 1
	}
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		sizes []int
	}{
		{"one record", Options{}, []int{10}},
		{"empty data", Options{}, []int{0, 0, 5}},
		{"many segments", Options{SegmentBytes: 1000, MaxBytes: 1 << 20}, []int{100, 300, 999, 1, 2000, 0, 50, 700, 700, 700}},
		{"sync interval", Options{SyncInterval: time.Millisecond, SegmentBytes: 500, MaxBytes: 1 << 20}, []int{100, 200, 300, 400, 500}},
		{"large record", Options{}, []int{3 << 20, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openLog(t, t.TempDir(), tt.opts)
			for i, n := range tt.sizes {
				if got, want := mustAppend(t, l, payload(fmt.Sprint(i), n), i), uint64(i+1); got != want {
					t.Fatalf("Append #%d: seq %d, want %d", i, got, want)
				}
			}
			if err := l.Wait(t.Context(), uint64(len(tt.sizes)-1)); err != nil {
				t.Fatal(err)
			}
			got := readAll(t, l, 0)
			if len(got) != len(tt.sizes) {
				t.Fatalf("read %d records, want %d", len(got), len(tt.sizes))
			}
			for i, e := range got {
				if e.Seq != uint64(i+1) || e.Weight != i || !bytes.Equal(e.Data, payload(fmt.Sprint(i), tt.sizes[i])) || e.Time == 0 {
					t.Errorf("record %d: seq %d weight %d len %d time %d", i, e.Seq, e.Weight, len(e.Data), e.Time)
				}
				if i > 0 && e.Time < got[i-1].Time {
					t.Errorf("record %d: time went back", i)
				}
			}
			st := l.Stats()
			if st.PendingRecords != int64(len(tt.sizes)) || st.LastSeq != uint64(len(tt.sizes)) || st.FirstSeq != 1 {
				t.Errorf("stats: %+v", st)
			}
		})
	}
}

func TestReadLimits(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 400, MaxBytes: 1 << 20})
	for range 20 {
		mustAppend(t, l, make([]byte, 100), 1)
	}
	tests := []struct {
		from          uint64
		max, maxBytes int
		want          []uint64 // first and last seq
	}{
		{1, 5, 0, []uint64{1, 5}},
		{3, 0, 250, []uint64{3, 4}},
		{7, 1, 1, []uint64{7, 7}},        // at least one record
		{19, 10, 1000, []uint64{19, 20}}, // ends at the last record
		{0, 2, 0, []uint64{1, 2}},
		{21, 10, 0, nil},
	}
	for _, tt := range tests {
		es, err := l.Read(tt.from, tt.max, tt.maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		if len(es) > 0 {
			got = []uint64{es[0].Seq, es[len(es)-1].Seq}
			for i, e := range es {
				if e.Seq != es[0].Seq+uint64(i) {
					t.Errorf("Read(%d, %d, %d): not contiguous at %d", tt.from, tt.max, tt.maxBytes, i)
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Read(%d, %d, %d) = seqs %v, want %v", tt.from, tt.max, tt.maxBytes, got, tt.want)
		}
	}
}

func TestReopenContinues(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 300, MaxBytes: 1 << 20}
	l := openLog(t, dir, opts)
	for i := range 10 {
		mustAppend(t, l, payload(fmt.Sprint(i), 50), 1)
	}
	id := l.ID()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), nil, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if _, err := l.Read(1, 1, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v, want ErrClosed", err)
	}

	l = openLog(t, dir, opts)
	if l.ID() != id {
		t.Errorf("ID after reopen = %q, want %q", l.ID(), id)
	}
	if got := mustAppend(t, l, payload("10", 50), 1); got != 11 {
		t.Errorf("first Append after reopen: seq %d, want 11", got)
	}
	got := readAll(t, l, 1)
	if len(got) != 11 {
		t.Fatalf("read %d records, want 11", len(got))
	}
	for i, e := range got {
		if !bytes.Equal(e.Data, payload(fmt.Sprint(i), 50)) {
			t.Errorf("record %d: data differs", e.Seq)
		}
	}

	// Everything acknowledged: the seqs still continue after a reopen.
	if err := l.Ack(11); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openLog(t, dir, opts)
	if got := mustAppend(t, l, nil, 0); got != 12 {
		t.Errorf("Append after acknowledging all and reopening: seq %d, want 12", got)
	}
}

func TestNewDirNewID(t *testing.T) {
	ids := map[string]bool{}
	for range 3 {
		l := openLog(t, t.TempDir(), Options{})
		if !validID(l.ID()) || ids[l.ID()] {
			t.Fatalf("ID %q: invalid or repeated", l.ID())
		}
		ids[l.ID()] = true
	}
	// A wiped directory is a new incarnation.
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	old := l.ID()
	l.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, Options{})
	if l.ID() == old {
		t.Error("wiped directory kept its ID")
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	openLog(t, dir, Options{})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []Options{
		{SegmentBytes: -1},
		{MaxBytes: -1},
		{MaxBytes: 10},
		{MaxAge: -time.Second},
		{SyncInterval: -time.Second},
		{Full: Policy(7)},
	}
	for _, o := range tests {
		if l, err := Open(t.TempDir(), o); err == nil {
			l.Close()
			t.Errorf("Open with %+v: no error", o)
		}
	}
}

func TestAck(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1000, MaxBytes: 1 << 20}
	l := openLog(t, dir, opts)
	for i := range 100 {
		mustAppend(t, l, payload(fmt.Sprint(i), 100), 2)
	}
	before := len(segFiles(t, dir))
	if err := l.Ack(101); err == nil {
		t.Error("Ack beyond LastSeq: no error")
	}
	if err := l.Ack(50); err != nil {
		t.Fatal(err)
	}
	if err := l.Ack(40); err != nil {
		t.Errorf("Ack of an old seq: %v", err)
	}
	after := len(segFiles(t, dir))
	if after >= before {
		t.Errorf("segments before Ack %d, after %d: none deleted", before, after)
	}
	st := l.Stats()
	if st.AckedSeq != 50 || st.PendingRecords != 50 || st.PendingPoints != 100 || st.PendingBytes != 50*(100+recHeaderLen) {
		t.Errorf("stats after Ack(50): %+v", st)
	}
	if st.FirstSeq > 51 || st.FirstSeq == 1 {
		t.Errorf("FirstSeq = %d, want in 2..51", st.FirstSeq)
	}
	if d := st.Dropped[ReasonFull]; d.Records != 0 {
		t.Errorf("acknowledged records counted as dropped: %+v", d)
	}
	l.Close()

	l = openLog(t, dir, opts)
	if got := l.Acked(); got != 50 {
		t.Errorf("Acked after reopen = %d, want 50", got)
	}
	if got := len(segFiles(t, dir)); got != after {
		t.Errorf("segments after reopen: %d, want %d", got, after)
	}
	es := readAll(t, l, l.Acked()+1)
	if len(es) != 50 || es[0].Seq != 51 {
		t.Fatalf("after reopen read %d records from %d", len(es), es[0].Seq)
	}
	st = l.Stats()
	if st.PendingRecords != 50 || st.PendingPoints != 100 {
		t.Errorf("stats after reopen: %+v", st)
	}
	if err := l.Ack(100); err != nil {
		t.Fatal(err)
	}
	if got := len(segFiles(t, dir)); got != 1 {
		t.Errorf("segments after acknowledging everything: %d, want 1 (the active one)", got)
	}
	if st := l.Stats(); st.PendingRecords != 0 || !st.OldestPending.IsZero() {
		t.Errorf("stats after acknowledging everything: %+v", st)
	}
}

func TestCursorLostResends(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	for range 10 {
		mustAppend(t, l, []byte("x"), 1)
	}
	if err := l.Ack(4); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := os.Remove(filepath.Join(dir, cursorFile)); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, Options{})
	if got := l.Acked(); got != 0 {
		t.Errorf("Acked = %d, want 0", got)
	}
	if es := readAll(t, l, l.Acked()+1); len(es) != 10 {
		t.Errorf("resend: %d records, want 10", len(es))
	}
	if got := mustAppend(t, l, nil, 0); got != 11 {
		t.Errorf("seq after losing the cursor = %d, want 11", got)
	}
}

// TestDropInFlight drops, by DropOldest, a segment whose records a reader
// holds: they count as dropped only if they turn out undelivered, not if
// the receiver has them. Until that is settled Read refuses to go past
// them (ErrWatermarkNeeded), so that the receiver's watermark still says
// which of them it has.
func TestDropInFlight(t *testing.T) {
	// probe is a reader that asks the receiver for its watermark: Read
	// says it must, and it passes the answer to Delivered.
	probe := func(t *testing.T, l *Log, watermark uint64) {
		t.Helper()
		if _, err := l.Read(1, 10, 1<<20); !errors.Is(err, ErrWatermarkNeeded) {
			t.Fatalf("Read after a drop in flight: %v, want ErrWatermarkNeeded", err)
		}
		if err := l.Wait(t.Context(), 1<<20); err != nil {
			t.Fatalf("Wait after a drop in flight: %v, want it to return at once", err)
		}
		l.Delivered(watermark, 0, 0)
		if es, err := l.Read(1, 10, 1<<20); err != nil || len(es) == 0 || es[0].Seq != 21 {
			t.Fatalf("Read after Delivered: %d records, %v; want them from seq 21", len(es), err)
		}
	}
	for _, tt := range []struct {
		name      string
		settle    func(t *testing.T, l *Log, batch []Entry)
		wantBatch bool // the batch's records count as dropped
	}{
		{"acknowledged", func(t *testing.T, l *Log, batch []Entry) {
			if err := l.Ack(batch[len(batch)-1].Seq); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"answered", func(t *testing.T, l *Log, batch []Entry) {
			l.Delivered(0, batch[0].Seq, batch[len(batch)-1].Seq)
		}, false},
		{"lost: the receiver has none of it", func(t *testing.T, l *Log, batch []Entry) {
			probe(t, l, 0)
		}, true},
		{"stored, its answer lost", func(t *testing.T, l *Log, batch []Entry) {
			probe(t, l, batch[len(batch)-1].Seq)
		}, false},
		{"closed", func(t *testing.T, l *Log, batch []Entry) {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rec := int64(recHeaderLen + 100)
			opts := Options{SegmentBytes: 10 * rec, MaxBytes: 40 * rec} // 10 records a segment, 4 segments
			l := openLog(t, dir, opts)
			for i := range 30 {
				mustAppend(t, l, payload(fmt.Sprint(i), 100), 2)
			}
			// A reader takes 5 records of the first segment; then the log
			// fills and drops the first two segments.
			batch, err := l.Read(1, 5, 1<<20)
			if err != nil || len(batch) != 5 {
				t.Fatalf("Read: %d records, %v", len(batch), err)
			}
			for i := range 25 {
				mustAppend(t, l, payload(fmt.Sprint(i), 100), 2)
			}
			dropped := l.Stats().Dropped[ReasonFull]
			if want := (DropCount{Records: 15, Points: 30, Bytes: 15 * rec}); dropped != want {
				t.Fatalf("before settling: dropped %+v, want %+v (the 5 in flight left out)", dropped, want)
			}
			tt.settle(t, l, batch)
			want := DropCount{Records: 15, Points: 30, Bytes: 15 * rec}
			if tt.wantBatch {
				want = DropCount{Records: 20, Points: 40, Bytes: 20 * rec}
			}
			if tt.name == "closed" {
				l = openLog(t, dir, opts)
			}
			if got := l.Stats().Dropped[ReasonFull]; got != want {
				t.Errorf("dropped %+v, want %+v", got, want)
			}
			// What the cursor on disk says survives a reopen.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got := openLog(t, dir, opts).Stats().Dropped[ReasonFull]; got != want {
				t.Errorf("after reopening: dropped %+v, want %+v", got, want)
			}
		})
	}
}

// TestDropOldest checks that a full log deletes whole segments and counts
// exactly what they held that was not acknowledged.
func TestDropOldest(t *testing.T) {
	tests := []struct {
		name          string
		segment, max  int64
		n, ackEvery   int
		syncInterval  time.Duration
		minSize, span int
	}{
		{"no acks", 2000, 10000, 300, 0, 0, 10, 200},
		{"some acks", 2000, 10000, 300, 7, 0, 10, 200},
		{"sync interval", 1500, 9000, 200, 0, time.Millisecond, 1, 400},
		// MaxBytes/4 clamps the segment size.
		{"big segment", 1 << 20, 8000, 200, 0, 0, 100, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Options{SegmentBytes: tt.segment, MaxBytes: tt.max, SyncInterval: tt.syncInterval})
			r := rand.New(rand.NewPCG(1, 2))
			type rec struct{ size, weight int }
			recs := map[uint64]rec{}
			var acked uint64
			for i := range tt.n {
				size, weight := tt.minSize+r.IntN(tt.span), r.IntN(50)
				seq := mustAppend(t, l, payload(fmt.Sprint(i), size), weight)
				recs[seq] = rec{size, weight}
				if st := l.Stats(); st.DiskBytes > tt.max {
					t.Fatalf("DiskBytes %d > MaxBytes %d", st.DiskBytes, tt.max)
				}
				if tt.ackEvery > 0 && i%tt.ackEvery == 0 && i < tt.n/2 { // then the hub goes away
					if err := l.Wait(t.Context(), seq-1); err != nil {
						t.Fatal(err)
					}
					if err := l.Ack(seq - 1); err != nil {
						t.Fatal(err)
					}
					acked = seq - 1
				}
			}
			if err := l.Wait(t.Context(), uint64(tt.n)-1); err != nil {
				t.Fatal(err)
			}
			present := map[uint64]bool{}
			for _, e := range readAll(t, l, 0) {
				present[e.Seq] = true
			}
			var want DropCount
			for seq, rc := range recs {
				if !present[seq] && seq > acked {
					want = want.add(DropCount{Records: 1, Points: int64(rc.weight), Bytes: int64(rc.size + recHeaderLen)})
				}
			}
			st := l.Stats()
			if got := st.Dropped[ReasonFull]; got != want || want.Records == 0 {
				t.Errorf("dropped %+v, want %+v (nonzero)", got, want)
			}
			var pending DropCount
			for seq := range present {
				if seq > acked {
					rc := recs[seq]
					pending = pending.add(DropCount{Records: 1, Points: int64(rc.weight), Bytes: int64(rc.size + recHeaderLen)})
				}
			}
			if got := (DropCount{st.PendingRecords, st.PendingPoints, st.PendingBytes}); got != pending {
				t.Errorf("pending %+v, want %+v", got, pending)
			}
			if st.Rejected != 0 {
				t.Errorf("Rejected = %d", st.Rejected)
			}
			// Read from a dropped range starts at FirstSeq.
			es, err := l.Read(1, 1, 0)
			if err != nil || len(es) != 1 || es[0].Seq != st.FirstSeq || st.FirstSeq <= 1 {
				t.Errorf("Read(1) = %v, %v; FirstSeq %d", es, err, st.FirstSeq)
			}
			// The counts survive a reopen.
			l.Close()
			l = openLog(t, dir, Options{SegmentBytes: tt.segment, MaxBytes: tt.max})
			if got := l.Stats().Dropped[ReasonFull]; got != want {
				t.Errorf("dropped after reopen %+v, want %+v", got, want)
			}
		})
	}
}

func TestRejectNew(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 1000, MaxBytes: 5000, Full: RejectNew})
	var last uint64
	rejected := 0
	for i := range 100 {
		seq, err := l.Append(context.Background(), make([]byte, 100), 1)
		switch {
		case errors.Is(err, ErrFull):
			rejected++
		case err != nil:
			t.Fatal(err)
		default:
			if rejected > 0 {
				t.Fatalf("Append #%d accepted after a rejection", i)
			}
			last = seq
		}
	}
	st := l.Stats()
	if rejected == 0 || st.Rejected != int64(rejected) || st.DiskBytes > 5000 {
		t.Fatalf("rejected %d, stats %+v", rejected, st)
	}
	if len(st.Dropped) != 0 || st.PendingRecords != int64(last) {
		t.Errorf("reject-new dropped records: %+v", st)
	}
	if err := l.Ack(last); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), make([]byte, 100), 1); err != nil {
		t.Errorf("Append after acknowledging all: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{MaxBytes: 4096})
	if _, err := l.Append(context.Background(), make([]byte, 4096), 1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append larger than MaxBytes: %v, want ErrTooLarge", err)
	}
	if _, err := l.Append(context.Background(), nil, -1); err == nil {
		t.Error("negative weight: no error")
	}
	if _, err := l.Append(context.Background(), make([]byte, 4096-segHeaderLen-recHeaderLen), 1); err != nil {
		t.Errorf("Append of the largest record: %v", err)
	}
}

func TestMaxAge(t *testing.T) {
	tests := []struct {
		name    string
		segment int64
		acked   uint64
	}{
		{"within the active segment", 1 << 20, 0},
		{"across segments", 500, 0},
		{"acknowledged are not counted", 500, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := clocktest.New(time.Unix(1_000_000, 0))
			opts := Options{MaxAge: time.Hour, SegmentBytes: tt.segment, MaxBytes: 1 << 22, now: c.Now}
			l := openLog(t, dir, opts)
			for range 30 {
				mustAppend(t, l, make([]byte, 50), 3)
				c.Add(time.Second)
			}
			if tt.acked > 0 {
				if err := l.Ack(tt.acked); err != nil {
					t.Fatal(err)
				}
			}
			c.Add(time.Hour - 10*time.Second) // records 1..20 are now older than an hour
			if err := l.expire(); err != nil {
				t.Fatal(err)
			}
			wantRecs := 20 - int64(tt.acked)
			want := DropCount{Records: wantRecs, Points: 3 * wantRecs, Bytes: wantRecs * (50 + recHeaderLen)}
			st := l.Stats()
			if got := st.Dropped[ReasonAge]; got != want {
				t.Errorf("dropped %+v, want %+v", got, want)
			}
			if st.FirstSeq != 21 || st.PendingRecords != 10 || st.OldestPending != time.Unix(1_000_020, 0) {
				t.Errorf("stats: %+v", st)
			}
			if es := readAll(t, l, 1); len(es) != 10 || es[0].Seq != 21 {
				t.Errorf("Read(1) after age drop: %d records", len(es))
			}
			// Append triggers the next age drop; the drop floor survives a
			// reopen. The reader above was given records 21..30 and never
			// acknowledged them: the drop counts them once the reader says
			// the receiver has none of them.
			c.Add(5 * time.Second)
			mustAppend(t, l, make([]byte, 50), 3)
			deadline := time.Now().Add(time.Minute)
			for {
				l.Delivered(0, 0, 0)
				if l.Stats().Dropped[ReasonAge].Records == wantRecs+5 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Append did not trigger an age drop: %+v", l.Stats().Dropped)
				}
				time.Sleep(time.Millisecond)
			}
			l.Close()
			l = openLog(t, dir, opts)
			st = l.Stats()
			if st.FirstSeq != 26 || st.Dropped[ReasonAge].Records != wantRecs+5 || st.PendingRecords != 6 {
				t.Errorf("after reopen: %+v", st)
			}
		})
	}
}

func TestMaxAgeTicker(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{MaxAge: 50 * time.Millisecond})
	for range 5 {
		mustAppend(t, l, []byte("old"), 2)
	}
	deadline := time.Now().Add(time.Minute)
	for l.Stats().Dropped[ReasonAge].Points != 10 {
		if time.Now().After(deadline) {
			t.Fatalf("no age drop: %+v", l.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := l.Stats(); st.PendingRecords != 0 {
		t.Errorf("pending after age drop: %+v", st)
	}
}

// TestSyncIntervalVisibility checks that records are readable only once
// fsynced.
func TestSyncIntervalVisibility(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{SyncInterval: time.Hour})
	seq := mustAppend(t, l, []byte("a"), 1)
	if es, err := l.Read(1, 10, 0); err != nil || len(es) != 0 {
		t.Errorf("Read before fsync: %v, %v", es, err)
	}
	if err := l.Ack(seq); err == nil {
		t.Error("Ack before fsync: no error")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait before fsync: %v", err)
	}
	if st := l.Stats(); st.LastSeq != 1 || st.PendingRecords != 1 {
		t.Errorf("stats: %+v", st)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, Options{SyncInterval: time.Hour})
	if es := readAll(t, l, 1); len(es) != 1 {
		t.Errorf("after Close and reopen: %d records", len(es))
	}
}

// TestWait checks that Wait blocks until a record is durable, the
// context ends or the log closes. synctest.Wait returns once every
// goroutine of the test is blocked, so a waiter that has not returned by
// then is blocked in Wait.
func TestWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := openLog(t, t.TempDir(), Options{})
		errc := make(chan error, 1)
		blocked := func(what string) {
			t.Helper()
			synctest.Wait()
			select {
			case err := <-errc:
				t.Fatalf("Wait returned %v %s", err, what)
			default:
			}
		}
		go func() { errc <- l.Wait(t.Context(), 0) }()
		blocked("before any record")
		mustAppend(t, l, []byte("a"), 1)
		if err := <-errc; err != nil {
			t.Fatalf("Wait: %v", err)
		}

		ctx, cancel := context.WithCancel(t.Context())
		go func() { errc <- l.Wait(ctx, 1) }()
		blocked("before a second record or the cancel")
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Wait after cancel: %v", err)
		}

		go func() { errc <- l.Wait(t.Context(), 1) }()
		blocked("before a second record or Close")
		l.Close()
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Errorf("Wait across Close: %v", err)
		}
	})
}

// TestConcurrent runs appenders, a forwarder (Wait, Read, Ack) and a stats
// reader at once; run it with -race.
func TestConcurrent(t *testing.T) {
	for _, si := range []time.Duration{0, 2 * time.Millisecond} {
		t.Run(fmt.Sprint("sync_interval=", si), func(t *testing.T) {
			l := openLog(t, t.TempDir(), Options{SegmentBytes: 8 << 10, MaxBytes: 1 << 30, SyncInterval: si})
			const writers, each = 8, 150
			var appended atomic.Int64
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						key := fmt.Sprint(w, "/", i)
						data := append([]byte(key+"|"), payload(key, i*7%500)...)
						if _, err := l.Append(context.Background(), data, 1); err != nil {
							t.Errorf("Append: %v", err)
							return
						}
						appended.Add(1)
					}
				})
			}
			stop := make(chan struct{})
			var sg sync.WaitGroup
			sg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						st := l.Stats()
						if st.PendingRecords < 0 || st.PendingBytes < 0 {
							t.Errorf("stats: %+v", st)
						}
						time.Sleep(time.Millisecond)
					}
				}
			})
			seen := map[string]bool{}
			next := uint64(1)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			for len(seen) < writers*each {
				es, err := l.Read(next, 50, 16<<10)
				if err != nil {
					t.Fatal(err)
				}
				if len(es) == 0 {
					if err := l.Wait(ctx, next-1); err != nil {
						t.Fatalf("Wait: %v (seen %d)", err, len(seen))
					}
					continue
				}
				for _, e := range es {
					if e.Seq != next {
						t.Fatalf("got seq %d, want %d", e.Seq, next)
					}
					key, _, _ := bytes.Cut(e.Data, []byte("|"))
					var w, i int
					fmt.Sscanf(string(key), "%d/%d", &w, &i)
					if !bytes.Equal(e.Data[len(key)+1:], payload(string(key), i*7%500)) || seen[string(key)] {
						t.Fatalf("seq %d: bad or repeated data for %s", e.Seq, key)
					}
					seen[string(key)] = true
					next++
				}
				if err := l.Ack(next - 1); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			close(stop)
			sg.Wait()
			if st := l.Stats(); st.PendingRecords != 0 || st.AckedSeq != writers*each {
				t.Errorf("final stats: %+v", st)
			}
		})
	}
}

// TestScan checks that Scan sees the records still on disk from a time on,
// acknowledged ones included, and only durable ones.
func TestScan(t *testing.T) {
	c := clocktest.New(time.Unix(1_000_000, 0))
	// Five records of 50 bytes fill a segment: segments hold 1-5, 6-10, …
	opts := Options{SegmentBytes: segHeaderLen + 5*(recHeaderLen+50), now: c.Now}
	l := openLog(t, t.TempDir(), opts)
	timeOf := func(seq uint64) time.Time { return time.Unix(1_000_000+int64(seq), 0) }
	for i := uint64(1); i <= 30; i++ {
		c.Add(time.Second) // record i is appended at timeOf(i)
		mustAppend(t, l, payload(fmt.Sprint(i), 50), int(i))
	}
	if err := l.Ack(23); err != nil { // deletes the segments up to 16-20
		t.Fatal(err)
	}
	scan := func(since time.Time) []uint64 {
		t.Helper()
		var seqs []uint64
		err := l.Scan(since, func(e Entry) error {
			if !bytes.Equal(e.Data, payload(fmt.Sprint(e.Seq), 50)) || e.Weight != int(e.Seq) || e.Time != timeOf(e.Seq).UnixNano() {
				t.Errorf("record %d: wrong data, weight %d or time %d", e.Seq, e.Weight, e.Time)
			}
			seqs = append(seqs, e.Seq)
			return nil
		})
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		return seqs
	}
	seqRange := func(from, to uint64) (s []uint64) {
		for i := from; i <= to; i++ {
			s = append(s, i)
		}
		return s
	}
	tests := []struct {
		name  string
		since time.Time
		want  []uint64
	}{
		{"everything on disk, acknowledged included", time.Time{}, seqRange(21, 30)},
		{"from a deleted segment's time", timeOf(3), seqRange(21, 30)},
		{"from an acknowledged record", timeOf(22), seqRange(22, 30)},
		{"from a pending record", timeOf(27), seqRange(27, 30)},
		{"after the last record", timeOf(31), nil},
	}
	for _, tt := range tests {
		if got := scan(tt.since); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: Scan got %v, want %v", tt.name, got, tt.want)
		}
	}
	if got, want := l.Stats().LastAppend, timeOf(30); !got.Equal(want) {
		t.Errorf("LastAppend %v, want %v", got, want)
	}

	stop := errors.New("enough")
	n := 0
	err := l.Scan(time.Time{}, func(Entry) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("Scan with fn failing at the third record: %v after %d calls", err, n)
	}
}

// TestScanIndex checks Scan's start from the index of a large segment, and
// that it skips records that are not yet fsynced.
func TestScanIndex(t *testing.T) {
	c := clocktest.New(time.Unix(1_000_000, 0))
	dir := t.TempDir()
	l := openLog(t, dir, Options{SyncInterval: time.Hour, now: c.Now})
	const n = 300 // 1 KiB each: several index marks
	for i := 1; i <= n; i++ {
		c.Add(time.Second) // record i is appended at second i
		mustAppend(t, l, payload(fmt.Sprint(i), 1000), 1)
	}
	count := func(l *Log, since int64) (first uint64, n int) {
		t.Helper()
		err := l.Scan(time.Unix(1_000_000+since, 0), func(e Entry) error {
			if n == 0 {
				first = e.Seq
			}
			n++
			if !bytes.Equal(e.Data, payload(fmt.Sprint(e.Seq), 1000)) {
				t.Errorf("record %d: wrong data", e.Seq)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return first, n
	}
	if _, got := count(l, 0); got != 0 {
		t.Errorf("Scan before fsync saw %d records", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, Options{})
	for _, since := range []int64{0, 1, 64, 65, 200, 300} {
		first, got := count(l, since)
		want := n - int(max(since, 1)) + 1
		if got != want || first != uint64(max(since, 1)) {
			t.Errorf("Scan from time %d: %d records from %d, want %d from %d", since, got, first, want, max(since, 1))
		}
	}
}

// TestDropCountWithReader runs writers that overflow a DropOldest log
// against a reader that sends batches to a model receiver: some attempts
// fail before the receiver stores them (a refused connection), some are
// stored but their answer is lost, and in one variant both; the reader
// then reads again from the same place, and asks the receiver for its
// watermark when Read says it must. Every record is then stored by the
// receiver, still pending, or counted as dropped, exactly once.
//
// A send takes as long as the writers need to append a random number of
// records, so that drops hit records on their way.
func TestDropCountWithReader(t *testing.T) {
	for _, tt := range []struct {
		name            string
		refused, answer int // one attempt in this many fails so
	}{
		{"refused connections", 4, 0},
		{"lost answers", 0, 4},
		// Before Read asked for the receiver's watermark, a refused attempt
		// followed by a stored one whose answer was lost made the count low.
		{"refused connections and lost answers", 4, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := int64(recHeaderLen + 40)
			dir := t.TempDir()
			opts := Options{SegmentBytes: 32 * rec, MaxBytes: 256 * rec, SyncInterval: time.Millisecond}
			l := openLog(t, dir, opts)
			const n = 6000
			appended := make(chan struct{}, 64) // one per record appended, if the reader is listening
			allAppended := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 4 { // devices append concurrently
				wg.Go(func() {
					for i := w; i < n; i += 4 {
						mustAppend(t, l, payload(fmt.Sprint(i), 40), 1)
						select {
						case appended <- struct{}{}:
						default:
						}
					}
				})
			}
			go func() {
				wg.Wait()
				close(allAppended)
			}()

			stored := map[uint64]bool{}
			var watermark uint64 // the receiver's
			var probes int
			r := rand.New(rand.NewPCG(5, 6))
			fails := func(oneIn int) bool { return oneIn > 0 && r.IntN(oneIn) == 0 }
			next := uint64(1)
			for next <= n {
				es, err := l.Read(next, 1+r.IntN(40), 1<<20)
				if errors.Is(err, ErrWatermarkNeeded) {
					probes++
					if !fails(tt.refused) && !fails(tt.answer) {
						l.Delivered(watermark, 0, 0)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(es) == 0 {
					if err := l.Wait(t.Context(), next-1); err != nil {
						t.Fatal(err)
					}
					continue
				}
			sending:
				for range r.IntN(40) {
					select {
					case <-appended:
					case <-allAppended:
						break sending
					}
				}
				if fails(tt.refused) {
					continue // not stored: read again from next
				}
				prev := watermark
				for _, e := range es {
					if e.Seq > watermark {
						stored[e.Seq] = true
					}
				}
				watermark = max(watermark, es[len(es)-1].Seq)
				if fails(tt.answer) {
					continue // stored, but the answer was lost: read again from next
				}
				l.Delivered(prev, es[0].Seq, es[len(es)-1].Seq)
				last := es[len(es)-1].Seq
				if err := l.Ack(last); err != nil {
					t.Fatal(err)
				}
				next = last + 1
			}
			<-allAppended
			st := l.Stats()
			got := st.Dropped[ReasonFull].Records
			want := n - int64(len(stored)) - st.PendingRecords
			if got != want {
				t.Errorf("dropped %d, want %d: %d stored, %d pending of %d", got, want, len(stored), st.PendingRecords, n)
			}
			t.Logf("%d dropped, %d probes, %d stored", got, probes, len(stored))
			if got == 0 || probes == 0 {
				t.Errorf("%d dropped, %d of them from the reader's hands: the test did not overflow the log", got, probes)
			}
			l.Close()
			if got := openLog(t, dir, opts).Stats().Dropped[ReasonFull].Records; got != want {
				t.Errorf("after reopening: dropped %d, want %d", got, want)
			}
		})
	}
}
