package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// recovered sums up what Open found while scanning the segments.
type recovered struct {
	corrupt  DropCount // records lost to corruption
	seqFloor uint64    // the next seq must be at least this, so that seqs of lost records are never reused
	gaps     uint64    // the end of the last gap between segments that was counted
}

// recover loads the segments of l.dir into l.segs, repairing what a crash or
// corruption left: it never fails because of file content, only because of
// I/O errors.
func (l *Log) recover() (recovered, error) {
	var rec recovered
	ents, err := os.ReadDir(l.dir) // sorted by name, which for segments is by first seq
	if err != nil {
		return rec, err
	}
	var firsts []uint64
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, tmpSuffix) && e.Type().IsRegular() {
			// An interrupted writeFileAtomic: the old file is intact.
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				l.log.Warn("outbox: cannot remove temporary file", "file", name, "err", err)
			}
			continue
		}
		first, ok := parseSegName(name)
		if !ok {
			continue
		}
		if !e.Type().IsRegular() {
			l.log.Warn("outbox: ignoring segment name that is not a regular file", "file", name)
			continue
		}
		firsts = append(firsts, first)
	}
	// counted is how many lost records this Open has counted since the
	// last segment kept: they belong to the gap before the next one.
	var counted int64
	for i, first := range firsts {
		isLast := i == len(firsts)-1
		before := rec.corrupt.Records
		s, err := l.loadSegment(first, isLast, &rec)
		if err != nil {
			return rec, err
		}
		own := rec.corrupt.Records - before // lost at the end of this segment
		if s == nil {
			counted += own
			continue
		}
		if n := len(l.segs); n > 0 && s.first > l.segs[n-1].next() && s.first > l.cur.gaps {
			// Records between two segments are gone: a segment that lost
			// its tail (truncated at a record boundary looks whole) or
			// was removed. Count what this Open has not counted yet; their
			// points and bytes are unknown.
			prev := l.segs[n-1]
			if lost := int64(s.first-prev.next()) - counted; lost > 0 {
				l.log.Error("outbox: records missing between segments (a segment lost its end or was removed)",
					"after", prev.name, "before", s.name, "records_lost", lost)
				rec.corrupt = rec.corrupt.add(DropCount{Records: lost})
			}
			rec.gaps = s.first
		}
		counted = own
		if n := len(l.segs); n > 0 && s.first < l.segs[n-1].next() {
			// Two segments claim the same seqs: keep the older one.
			l.log.Error("outbox segment overlaps the previous one; moved to quarantine",
				"segment", s.name, "previous", l.segs[n-1].name)
			rec.corrupt = rec.corrupt.add(DropCount{Records: s.records, Points: s.points, Bytes: s.size - segHeaderLen})
			if isLast {
				rec.seqFloor = max(rec.seqFloor, s.next())
			}
			err := l.quarantine(s.f, s.name, 0, s.size)
			s.f.Close()
			if err != nil {
				return rec, err
			}
			continue
		}
		l.segs = append(l.segs, s)
	}
	return rec, syncDir(l.dir)
}

// loadSegment opens, scans and repairs one segment. It returns nil if
// nothing of the segment is left.
func (l *Log) loadSegment(first uint64, isLast bool, rec *recovered) (*segment, error) {
	name := segName(first)
	path := filepath.Join(l.dir, name)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open segment %s: %w", name, err)
	}
	s, err := l.repairSegment(f, first, isLast, rec)
	if s == nil || err != nil {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("recover segment %s: %w", name, err)
		}
	}
	return s, nil
}

func (l *Log) repairSegment(f *os.File, first uint64, isLast bool, rec *recovered) (*segment, error) {
	name := segName(first)
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	var magic [segHeaderLen]byte
	n, err := f.ReadAt(magic[:], 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	s := &segment{name: name, first: first, f: f, size: segHeaderLen}
	if n < segHeaderLen && bytes.Equal(magic[:n], segMagic[:n]) {
		// Created, but the header never fully reached the disk.
		if !isLast {
			l.log.Warn("outbox: removing empty segment", "segment", name)
			return nil, os.Remove(filepath.Join(l.dir, name))
		}
		if err := f.Truncate(0); err != nil {
			return nil, err
		}
		if _, err := f.WriteAt(segMagic[:], 0); err != nil {
			return nil, err
		}
		return s, f.Sync()
	}
	if magic != segMagic {
		d := countRegion(f, 0, size, first)
		l.log.Error("outbox segment has no valid header; moved to quarantine",
			"segment", name, "bytes", size, "records_found", d.Records)
		rec.corrupt = rec.corrupt.add(d)
		if isLast {
			rec.seqFloor = max(rec.seqFloor, first+uint64(size/recHeaderLen)+1)
		}
		return nil, l.quarantine(f, name, 0, size)
	}

	stop, err := s.scan(size)
	if err != nil {
		return nil, err
	}
	bad := size - stop.off
	switch {
	case stop.kind == stopNone:
	case isLast && (stop.kind == stopZeros ||
		stop.kind == stopTorn && countRegion(f, stop.off+1, size, stop.seq).Records == 0):
		// A write the crash interrupted: Append never returned for it.
		l.log.Warn("outbox: truncating incomplete record at the end of the log",
			"segment", name, "offset", stop.off, "bytes", bad, "reason", stop.detail)
		if err := f.Truncate(stop.off); err != nil {
			return nil, err
		}
	case isLast && stop.kind == stopBadTail:
		l.log.Error("outbox: dropping last record, its checksum does not match",
			"segment", name, "offset", stop.off, "seq", stop.seq)
		rec.corrupt = rec.corrupt.add(DropCount{Records: 1, Bytes: bad})
		rec.seqFloor = max(rec.seqFloor, stop.seq+1)
		if err := f.Truncate(stop.off); err != nil {
			return nil, err
		}
	default:
		d := countRegion(f, stop.off+1, size, stop.seq)
		d.Records++ // the bad record itself
		d.Bytes = bad
		l.log.Error("outbox: corrupt record; moved the rest of the segment to quarantine",
			"segment", name, "offset", stop.off, "seq", stop.seq, "reason", stop.detail,
			"records_lost", d.Records, "bytes_lost", d.Bytes)
		rec.corrupt = rec.corrupt.add(d)
		if isLast {
			rec.seqFloor = max(rec.seqFloor, stop.seq+uint64(bad/recHeaderLen)+1)
		}
		if err := l.quarantine(f, name, stop.off, size); err != nil {
			return nil, err
		}
		if s.records == 0 {
			return nil, nil // moved whole
		}
	}
	if s.records == 0 && !isLast {
		l.log.Warn("outbox: removing empty segment", "segment", name)
		return nil, os.Remove(filepath.Join(l.dir, name))
	}
	// Records written before a kill -9 may still be only in the page
	// cache; once Read can see them they must be durable.
	return s, f.Sync()
}

// stopKind says why a segment scan stopped.
type stopKind int

const (
	stopNone    stopKind = iota // clean end of file
	stopTorn                    // the last record is incomplete
	stopZeros                   // only zero bytes remain (preallocated or lost blocks)
	stopBadTail                 // the last record is complete but its checksum fails
	stopCorrupt                 // anything else: bad checksum, length or seq mid-file
)

type scanStop struct {
	kind   stopKind
	off    int64  // where the valid records end
	seq    uint64 // seq the record at off should have had
	detail string
}

// scan indexes the valid records of s up to size bytes and says where and
// why it stopped. Only I/O errors are returned as errors.
func (s *segment) scan(size int64) (scanStop, error) {
	rr := newRecordReader(s.f, segHeaderLen, size)
	defer rr.release()
	p := s.start()
	var buf []byte
	for {
		stop := scanStop{off: p.off, seq: p.seq}
		h, err := rr.header()
		switch {
		case err == io.EOF:
			return stop, nil
		case errors.Is(err, errTruncated), errors.Is(err, ErrCorrupt), err == nil && h == (header{}):
			zero, zerr := allZero(s.f, p.off, size)
			switch {
			case zerr != nil:
				return stop, zerr
			case zero:
				stop.kind, stop.detail = stopZeros, "zero bytes"
			case errors.Is(err, errTruncated):
				stop.kind, stop.detail = stopTorn, err.Error()
			case err != nil:
				stop.kind, stop.detail = stopCorrupt, err.Error()
			default:
				stop.kind, stop.detail = stopCorrupt, "zero header"
			}
			return stop, nil
		case err != nil:
			return stop, err
		}
		if int64(cap(buf)) < int64(h.length) {
			buf = make([]byte, h.length)
		}
		err = rr.data(h, buf[:h.length])
		switch {
		case errors.Is(err, ErrCorrupt) && p.off+h.size() == size:
			stop.kind, stop.detail = stopBadTail, err.Error()
			return stop, nil
		case errors.Is(err, ErrCorrupt):
			stop.kind, stop.detail = stopCorrupt, err.Error()
			return stop, nil
		case err != nil:
			return stop, err
		case h.seq != p.seq:
			stop.kind, stop.detail = stopCorrupt, fmt.Sprintf("seq %d where %d belongs", h.seq, p.seq)
			return stop, nil
		}
		s.add(p, h)
		p.seq++
		p.off += h.size()
		p.points += int64(h.weight)
	}
}

// allZero reports whether f holds only zero bytes from off to end.
func allZero(f io.ReaderAt, off, end int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for off < end {
		n := int(min(int64(len(buf)), end-off))
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return false, err
		}
		for _, b := range buf[:n] {
			if b != 0 {
				return false, nil
			}
		}
		off += int64(n)
	}
	return true, nil
}

// countRegionMax bounds the bytes countRegion looks at.
const countRegionMax = 256 << 20

// countRegion counts, as far as possible, the valid records in f between
// off and end whose seqs could follow seq: it resynchronises on every byte
// offset, so records behind a damaged one are found. Only records with a
// matching checksum and a plausible seq count; read errors count nothing.
func countRegion(f io.ReaderAt, off, end int64, seq uint64) DropCount {
	if off >= end {
		return DropCount{}
	}
	end = min(end, off+countRegionMax)
	b := make([]byte, end-off)
	if n, err := f.ReadAt(b, off); err != nil && !(err == io.EOF && n == len(b)) {
		return DropCount{}
	}
	maxSeq := seq + uint64(len(b)/recHeaderLen)
	var d DropCount
	for i := 0; i+recHeaderLen <= len(b); {
		h := decodeHeader(b[i:])
		if h.seq >= seq && h.seq <= maxSeq && int64(h.length) <= int64(len(b)-i-recHeaderLen) &&
			checksum(b[i:i+recHeaderLen], b[i+recHeaderLen:i+int(h.size())]) == h.crc {
			d.Records++
			d.Points += int64(h.weight)
			i += int(h.size())
			continue
		}
		i++
	}
	return d
}

// quarantine moves the bytes of the segment in f from off to size into
// dir/quarantine under a timestamped name and cuts the segment at off. If
// off is at most the segment header, the whole file moves. If the copy
// fails (disk full), the bytes are only cut: keeping the log working beats
// keeping evidence.
func (l *Log) quarantine(f *os.File, name string, off, size int64) error {
	qdir := filepath.Join(l.dir, quarantineDir)
	if err := os.MkdirAll(qdir, 0o755); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	qname := filepath.Join(qdir, fmt.Sprintf("%s.%s.at%d", name, time.Now().UTC().Format("20060102T150405.000000000Z"), off))
	if off <= segHeaderLen {
		if err := os.Rename(filepath.Join(l.dir, name), qname); err != nil {
			return fmt.Errorf("quarantine: %w", err)
		}
		return syncDir(qdir)
	}
	if err := copyRange(qname, f, off, size); err != nil {
		l.log.Error("outbox: cannot keep corrupt data in quarantine; discarding it", "segment", name, "err", err)
		os.Remove(qname)
	} else if err := syncDir(qdir); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	if err := f.Truncate(off); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	return nil
}

// copyRange writes f's bytes from off to end into a new file at path.
func copyRange(path string, f *os.File, off, end int64) error {
	q, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(q, io.NewSectionReader(f, off, end-off))
	if err == nil {
		err = q.Sync()
	}
	if cerr := q.Close(); err == nil {
		err = cerr
	}
	return err
}
