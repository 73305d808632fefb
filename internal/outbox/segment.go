package outbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/molen-io/molen/internal/atomicfile"
)

// pos is the position of a record in a segment: its sequence number, byte
// offset, the sum of the weights of the records before it in the segment,
// and its append time (0 when pos is the end of the segment, past its last
// record).
type pos struct {
	seq    uint64
	off    int64
	points int64
	time   int64
}

// segment is one segment file and the in-memory index of its records.
//
// Invariants: the records of a segment have the contiguous sequence numbers
// first .. first+records-1; only the active (last) segment of a Log is
// written to, and only past size. All fields but name, first and f are
// guarded by Log.mu.
type segment struct {
	name  string
	first uint64 // seq of the first record; for an empty segment, of the next one
	f     *os.File

	size     int64 // bytes of complete, committed records plus the segment header
	records  int64
	points   int64
	minTime  int64 // append time of the first record
	maxTime  int64 // append time of the last record
	marks    []pos // sparse index: a record at least every markEvery bytes, starting with the first
	refs     int   // readers using f outside Log.mu
	retired  bool  // f is closed as soon as refs drops to 0
	fileGone bool  // f was closed
}

// next is the sequence number after the segment's last record.
func (s *segment) next() uint64 { return s.first + uint64(s.records) }

// start is the position of the first record (or of the end, if empty).
func (s *segment) start() pos {
	p := pos{seq: s.first, off: segHeaderLen}
	if s.records > 0 {
		p.time = s.minTime
	}
	return p
}

// end is the position after the last record.
func (s *segment) end() pos { return pos{seq: s.next(), off: s.size, points: s.points} }

// add indexes the record with header h written at p.
func (s *segment) add(p pos, h header) {
	p.time = h.time
	if s.records == 0 {
		s.minTime = h.time
	}
	s.maxTime = h.time
	if len(s.marks) == 0 || p.off-s.marks[len(s.marks)-1].off >= markEvery {
		s.marks = append(s.marks, p)
	}
	s.records++
	s.points += int64(h.weight)
	s.size = p.off + h.size()
}

// target says where a head move stops: at the first record with seq at or
// past seq or, if byTime, appended at or after cutoff. Append times never
// decrease, so both are monotonic along the log.
type target struct {
	byTime bool
	seq    uint64
	cutoff int64
}

func (t target) reached(seq uint64, time int64) bool {
	if t.byTime {
		return time >= t.cutoff
	}
	return seq >= t.seq
}

// before reports whether every record of s comes before the target.
func (t target) before(s *segment) bool {
	if t.byTime {
		return s.records > 0 && s.maxTime < t.cutoff
	}
	return s.next() <= t.seq
}

// seek scans s from p (a valid record position) up to limit bytes and
// returns the position of the first record that reaches t, or the position
// at limit if none does. It reads only headers.
func (s *segment) seek(p pos, limit int64, t target) (pos, error) {
	rr := newRecordReader(s.f, p.off, limit)
	defer rr.release()
	for {
		h, err := rr.header()
		if err == io.EOF {
			p.time = 0
			return p, nil
		}
		if err == nil && h.seq != p.seq {
			err = fmt.Errorf("%w: seq %d where %d belongs", ErrCorrupt, h.seq, p.seq)
		}
		if err != nil {
			return p, fmt.Errorf("scan segment %s at %d: %w", s.name, p.off, err)
		}
		if t.reached(h.seq, h.time) {
			p.time = h.time
			return p, nil
		}
		if err := rr.skip(h); err != nil {
			return p, fmt.Errorf("scan segment %s at %d: %w", s.name, p.off, err)
		}
		p.seq++
		p.off += h.size()
		p.points += int64(h.weight)
	}
}

// createSegment creates the empty segment whose first record will be
// first, durably: the header is fsynced and so is the directory.
func createSegment(dir string, first uint64) (*segment, error) {
	name := segName(first)
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	if _, err = f.Write(segMagic[:]); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		err = fmt.Errorf("create segment %s: %w", name, err)
		f.Close()
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		return nil, err
	}
	return &segment{name: name, first: first, f: f, size: segHeaderLen}, nil
}

// syncDir fsyncs a directory so that file creations, renames and removals
// in it are durable.
func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// headers reads the headers of the records of s from p to end (positions
// in s) and returns each one's seq, weight and size.
func (s *segment) headers(p, end pos) ([]droppedRec, error) {
	rr := newRecordReader(s.f, p.off, end.off)
	defer rr.release()
	out := make([]droppedRec, 0, end.seq-p.seq)
	for seq := p.seq; seq < end.seq; seq++ {
		h, err := rr.header()
		if err == nil && h.seq != seq {
			err = fmt.Errorf("%w: seq %d where %d belongs", ErrCorrupt, h.seq, seq)
		}
		if err == nil {
			err = rr.skip(h)
		}
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", s.name, err)
		}
		out = append(out, droppedRec{seq: seq, points: int64(h.weight), bytes: h.size()})
	}
	return out, nil
}
