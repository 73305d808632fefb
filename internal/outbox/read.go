package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
)

// Read returns records with Seq >= from, in order, at most maxRecords
// records and about maxBytes bytes of data (at least one record if any
// exists); maxRecords or maxBytes <= 0 means no such limit. If from is
// older than FirstSeq (records were dropped), it starts at FirstSeq.
// Returns nil, nil if none yet, and ErrWatermarkNeeded while records a
// bound dropped from the reader's hands wait for Delivered. Read returns
// only durable records (see doc.go). Sequence numbers are contiguous
// except where corrupt data was quarantined. A record that fails its
// checksum here (damage after Open) is an error wrapping ErrCorrupt; the
// next Open quarantines it.
func (l *Log) Read(from uint64, maxRecords int, maxBytes int) ([]Entry, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	if len(l.inflight) > 0 {
		l.mu.Unlock()
		return nil, ErrWatermarkNeeded
	}
	start := from
	if f := l.firstSeq(); start < f {
		start = f
	}
	last := l.durable
	if start > last {
		l.mu.Unlock()
		return nil, nil
	}
	// The segment holding start, or the next one if start is in a gap.
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first > start }) - 1
	if i < 0 {
		i = 0
	}
	if start >= l.segs[i].next() && i+1 < len(l.segs) {
		i++
	}
	segs := make([]*segment, 0, len(l.segs)-i)
	limits := make([]int64, 0, len(l.segs)-i)
	starts := make([]pos, 0, len(l.segs)-i)
	for _, s := range l.segs[i:] {
		s.refs++
		segs = append(segs, s)
		limits = append(limits, s.size)
		starts = append(starts, s.start())
	}
	starts[0] = l.startPos(segs[0], start)
	l.reading = true
	l.mu.Unlock()

	out, end, endSeg, err := readSegments(segs, limits, starts, start, last, maxRecords, maxBytes)

	l.mu.Lock()
	for _, s := range segs {
		l.release(s)
	}
	if err == nil && endSeg != nil && !endSeg.retired {
		l.hint = readHint{seg: endSeg, p: end}
	}
	l.reading = false
	if err == nil && len(out) > 0 {
		// An earlier read may have given more (a batch sent again is often
		// shorter): sent is the furthest any read went.
		if lastSeq := out[len(out)-1].Seq; lastSeq+1 > l.sent.p.seq {
			l.sent = readHint{p: pos{seq: lastSeq + 1}}
			if endSeg != nil && end.seq == lastSeq+1 {
				l.sent = readHint{seg: endSeg, p: end}
			}
		}
	}
	l.settleRead()
	l.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("outbox: read from %d: %w", start, err)
	}
	return out, nil
}

// startPos returns the best known position in s at or before the record
// with sequence number seq. l.mu must be held.
func (l *Log) startPos(s *segment, seq uint64) pos {
	p := s.start()
	if seq <= p.seq {
		return p
	}
	if j := sort.Search(len(s.marks), func(j int) bool { return s.marks[j].seq > seq }); j > 0 {
		p = s.marks[j-1]
	}
	if l.hint.seg == s && l.hint.p.seq <= seq && l.hint.p.seq > p.seq {
		p = l.hint.p
	}
	if l.segs[0] == s && l.head.seq <= seq && l.head.seq > p.seq {
		p = l.head
	}
	return p
}

// readSegments reads the records from start to last out of segs, each from
// starts[k] up to limits[k]. It returns the records, the position after the
// last one and its segment.
func readSegments(segs []*segment, limits []int64, starts []pos, start, last uint64, maxRecords, maxBytes int) ([]Entry, pos, *segment, error) {
	var out []Entry
	var p pos
	n := 0
	for k, s := range segs {
		p = starts[k]
		rr := newRecordReader(s.f, p.off, limits[k])
		for {
			h, err := rr.header()
			if err == io.EOF {
				break
			}
			if err == nil && h.seq != p.seq {
				err = fmt.Errorf("%w: seq %d where %d belongs", ErrCorrupt, h.seq, p.seq)
			}
			if err != nil {
				rr.release()
				return nil, p, nil, fmt.Errorf("segment %s at %d: %w", s.name, p.off, err)
			}
			full := maxRecords > 0 && len(out) >= maxRecords ||
				maxBytes > 0 && len(out) > 0 && n+int(h.length) > maxBytes
			if h.seq > last || full {
				rr.release()
				return out, p, s, nil
			}
			if h.seq < start {
				err = rr.skip(h)
			} else {
				data := make([]byte, h.length)
				if err = rr.data(h, data); err == nil {
					out = append(out, Entry{Seq: h.seq, Time: h.time, Weight: int(h.weight), Data: data})
					n += len(data)
				}
			}
			if err != nil {
				rr.release()
				return nil, p, nil, fmt.Errorf("segment %s at %d: %w", s.name, p.off, err)
			}
			p.seq++
			p.off += h.size()
			p.points += int64(h.weight)
		}
		rr.release()
	}
	return out, p, segs[len(segs)-1], nil
}

// Wait blocks until Read(after+1, ...) would return a record or
// ErrWatermarkNeeded, that is until a durable record with Seq > after
// exists that was not dropped or records were dropped from a reader's
// hands, or ctx ends, or the log is closed (ErrClosed).
func (l *Log) Wait(ctx context.Context, after uint64) error {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		if l.durable >= max(after+1, l.firstSeq()) || len(l.inflight) > 0 {
			l.mu.Unlock()
			return nil
		}
		ch := l.notify
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Scan calls fn, in sequence order, for every durable record still on disk
// that was appended at or after since: the pending records, and also the
// acknowledged and dropped ones whose segment was not deleted yet (a
// segment goes once none of its records is pending and it is not the
// active one). It is for rebuilding, at start, state that lives in the
// records themselves. e.Data is valid only until fn returns. Scan stops at
// the first error of fn and returns it; a record that fails its checksum is
// an error wrapping ErrCorrupt.
func (l *Log) Scan(since time.Time, fn func(e Entry) error) error {
	cutoff := since.UnixNano()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	last := l.durable
	var segs []*segment
	var limits []int64
	var starts []pos
	for _, s := range l.segs {
		if s.records == 0 || s.maxTime < cutoff {
			continue // append times never decrease: nothing in s is recent enough
		}
		// Start at the last index mark before the cutoff.
		p := s.start()
		for _, m := range s.marks {
			if m.time >= cutoff {
				break
			}
			p = m
		}
		s.refs++
		segs = append(segs, s)
		limits = append(limits, s.size)
		starts = append(starts, p)
	}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		for _, s := range segs {
			l.release(s)
		}
		l.mu.Unlock()
	}()

	var buf []byte
	for k, s := range segs {
		p := starts[k]
		rr := newRecordReader(s.f, p.off, limits[k])
		err := func() error {
			defer rr.release()
			for {
				h, err := rr.header()
				if err == io.EOF {
					return nil
				}
				if err == nil && h.seq != p.seq {
					err = fmt.Errorf("%w: seq %d where %d belongs", ErrCorrupt, h.seq, p.seq)
				}
				if err != nil {
					return fmt.Errorf("outbox: scan segment %s at %d: %w", s.name, p.off, err)
				}
				if h.seq > last {
					return errStop
				}
				if h.time < cutoff {
					err = rr.skip(h)
				} else {
					if cap(buf) < int(h.length) {
						buf = make([]byte, h.length)
					}
					buf = buf[:h.length]
					if err = rr.data(h, buf); err == nil {
						if err := fn(Entry{Seq: h.seq, Time: h.time, Weight: int(h.weight), Data: buf}); err != nil {
							return err
						}
					}
				}
				if err != nil {
					return fmt.Errorf("outbox: scan segment %s at %d: %w", s.name, p.off, err)
				}
				p.seq++
				p.off += h.size()
			}
		}()
		if err == errStop {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// errStop ends a scan early without an error.
var errStop = errors.New("stop")
