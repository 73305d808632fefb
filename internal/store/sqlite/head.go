package sqlite

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/store/colblock"
	"github.com/molen-io/molen/internal/uns"
)

// seriesState is what the store keeps in memory of a series: enough to
// answer Series and Latest without reading the database.
type seriesState struct {
	id     int64
	org    string
	path   string
	first  int64 // unix ns of the oldest stored point
	latest sample
	has    bool // latest is set: the series has had a point
}

// index holds every series in memory. Series are few next to points (a
// factory has thousands, a hub a few million at most) and about 150 bytes
// each here.
type index struct {
	byKey map[seriesKey]*seriesState
	byID  map[int64]*seriesState
	byOrg map[string][]*seriesState // by path
}

type seriesKey struct{ org, path string }

func newIndex() *index {
	return &index{
		byKey: make(map[seriesKey]*seriesState),
		byID:  make(map[int64]*seriesState),
		byOrg: make(map[string][]*seriesState),
	}
}

func (x *index) add(st *seriesState) {
	x.byKey[seriesKey{st.org, st.path}] = st
	x.byID[st.id] = st
	list := x.byOrg[st.org]
	i, _ := slices.BinarySearchFunc(list, st.path, func(s *seriesState, p string) int { return strings.Compare(s.path, p) })
	x.byOrg[st.org] = slices.Insert(list, i, st)
}

// under returns the series of org at or under prefix ("" for all), by
// path. prefix may end in '/'.
func (x *index) under(org, prefix string) []*seriesState {
	list := x.byOrg[org]
	p := strings.TrimSuffix(prefix, "/")
	if p == "" {
		return list
	}
	cmpPath := func(s *seriesState, p string) int { return strings.Compare(s.path, p) }
	lo, _ := slices.BinarySearchFunc(list, p, cmpPath)
	// Paths under p start with p + "/"; '0' is the byte after '/', so they
	// sort before p + "0". p itself sorts first.
	hi, _ := slices.BinarySearchFunc(list, p+"0", cmpPath)
	var out []*seriesState
	for _, s := range list[lo:hi] {
		if s.path == p || s.path[len(p)] == '/' {
			out = append(out, s)
		}
	}
	return out
}

// head holds the points of committed chunks that no block holds yet, by
// series, each series in ingest order. gen is the generation its blocks
// will get when it is compacted.
type head struct {
	gen       int64
	lastChunk int64 // the newest chunk whose points it holds
	series    map[int64]*headSeries
	points    int
	since     time.Time // when its first point arrived
}

// headSeries holds the points of one series in a head.
type headSeries struct{ ss []colblock.Sample }

func newHead(gen int64) *head { return &head{gen: gen, series: make(map[int64]*headSeries)} }

// appendRange appends to dst the samples of series id in [from, to), in
// ingest order.
func (h *head) appendRange(dst []colblock.Sample, id, from, to int64) []colblock.Sample {
	hs := h.series[id]
	if hs == nil {
		return dst
	}
	for _, s := range hs.ss {
		if s.TS >= from && s.TS < to {
			dst = append(dst, s)
		}
	}
	return dst
}

// sortSamples sorts ss by time, keeping ingest order among equal
// timestamps; most calls find them sorted already.
func sortSamples(ss []colblock.Sample) {
	if !slices.IsSortedFunc(ss, cmpSample) {
		slices.SortStableFunc(ss, cmpSample)
	}
}

func cmpSample(a, b sample) int { return cmp.Compare(a.TS, b.TS) }

// A chunk is the points of one Ingest call of one organisation, as
// committed with its watermark: they are durable from the commit on and
// are rewritten into blocks by compaction, which then deletes the chunk.
// Encoding: a version byte, the number of series paths and each path
// (uvarint length and bytes), then the points, each the index of its path
// shifted left by one, the low bit set on a record's first point (uvarint),
// the zigzag delta of its timestamp from the previous point's
// of its record (from 0 for a record's first point), a byte of kind (low 4
// bits) and quality (high 4 bits), and the value: 8 bytes of float bits, a
// zigzag varint int, a byte 0 or 1 for a bool, or a uvarint length and the
// string. Each record's points thus decode on their own, and Ingest stores
// only those of the records above the watermark. Chunks are not
// compressed: they are short-lived, and encoding them is on the path of
// every Ingest.
const chunkVersion = 1

func appendChunkHeader(b []byte, paths []string) []byte {
	b = append(b, chunkVersion)
	b = binary.AppendUvarint(b, uint64(len(paths)))
	for _, p := range paths {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// chunkPoint is a decoded point of a chunk: its series by path.
type chunkPoint struct {
	path string
	sample
}

// appendChunkPoint appends a point of the path with index local; first
// marks the first point of a record, whose timestamp delta is from 0.
func appendChunkPoint(b []byte, first bool, prevTS int64, local int64, s sample) []byte {
	l := uint64(local) << 1
	if first {
		l |= 1
	}
	b = binary.AppendUvarint(b, l)
	b = binary.AppendUvarint(b, colblock.Zigzag(s.TS-prevTS))
	k := s.V.Kind()
	b = append(b, byte(k)|byte(s.Q)<<4)
	switch k {
	case uns.KindFloat:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.V.Float64()))
	case uns.KindInt:
		b = binary.AppendUvarint(b, colblock.Zigzag(s.V.Int()))
	case uns.KindBool:
		if s.V.Bool() {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case uns.KindString:
		b = binary.AppendUvarint(b, uint64(len(s.V.Str())))
		b = append(b, s.V.Str()...)
	}
	return b
}

// decodeChunk calls fn for every point of an encoded chunk, in order.
func decodeChunk(b []byte, fn func(chunkPoint)) error {
	r := &colblock.Reader{B: b}
	if r.Byte() != chunkVersion {
		return fmt.Errorf("%w: unknown chunk version", colblock.ErrCorrupt)
	}
	n := r.Uvarint()
	if n > uint64(len(r.B)) { // each path takes a byte at least
		return fmt.Errorf("%w: %d paths in a chunk of %d bytes", colblock.ErrCorrupt, n, len(b))
	}
	paths := make([]string, n)
	for i := range paths {
		if r.Err != nil {
			break
		}
		paths[i] = string(r.Bytes(r.Uvarint()))
	}
	var ts int64
	for len(r.B) > 0 && r.Err == nil {
		var p chunkPoint
		l := r.Uvarint()
		if l&1 == 1 { // the first point of a record
			ts = 0
		}
		if l>>1 >= uint64(len(paths)) {
			r.Fail()
			break
		}
		p.path = paths[l>>1]
		ts += colblock.Unzigzag(r.Uvarint())
		p.TS = ts
		kq := r.Byte()
		p.Q = uns.Quality(kq >> 4)
		switch uns.Kind(kq & 0xf) {
		case uns.KindFloat:
			p.V = uns.Float(math.Float64frombits(r.Uint64()))
		case uns.KindInt:
			p.V = uns.Int(colblock.Unzigzag(r.Uvarint()))
		case uns.KindBool:
			p.V = uns.Bool(r.Byte() != 0)
		case uns.KindString:
			p.V = uns.String(string(r.Bytes(r.Uvarint())))
		default:
			r.Fail()
		}
		if r.Err == nil {
			fn(p)
		}
	}
	return r.Err
}

// sample is a stored point of a known series, as the block codec holds it.
type sample = colblock.Sample
