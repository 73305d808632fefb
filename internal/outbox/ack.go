package outbox

import "fmt"

// Ack records that every record with Seq <= seq has been delivered: it
// persists the cursor (atomically, tmp+rename) and deletes segments that
// hold only acknowledged records. Acknowledging a record that Read could
// not have returned yet (beyond the last durable record) is an error;
// acknowledging an old seq again is a no-op.
func (l *Log) Ack(seq uint64) error {
	l.ackMu.Lock()
	defer l.ackMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if seq > l.durable {
		durable := l.durable
		l.mu.Unlock()
		return fmt.Errorf("outbox: ack %d: beyond the last durable record %d", seq, durable)
	}
	if seq <= l.cur.acked {
		l.mu.Unlock()
		return nil
	}
	// Records a bound dropped while they were on their way and that no
	// Delivered settled: a reader that acknowledges past them sent them
	// (in this batch or an earlier attempt).
	l.settleInflight(func(r droppedRec) bool { return r.seq <= seq }, func(droppedRec) bool { return false })
	c := l.diskCursor()
	c.acked = seq
	l.mu.Unlock()
	// The cursor goes to disk before anything is deleted, so that every
	// record above the cursor on disk is still there, and the in-memory
	// cursor moves only once it is there, so that a failed Ack can be
	// retried. On a full disk, though, writing the cursor needs the space
	// of the segments it acknowledges: then they go first.
	if err := writeFileAtomic(l.dir, cursorFile, c.encode()); err != nil {
		if aerr := l.advance(target{seq: seq + 1}, ""); aerr != nil {
			return fmt.Errorf("outbox: ack %d: %w", seq, aerr)
		}
		if err := writeFileAtomic(l.dir, cursorFile, c.encode()); err != nil {
			return fmt.Errorf("outbox: ack %d: write cursor: %w", seq, err)
		}
	}
	l.mu.Lock()
	l.cur.acked = max(l.cur.acked, seq)
	l.mu.Unlock()
	if err := l.advance(target{seq: seq + 1}, ""); err != nil {
		return fmt.Errorf("outbox: ack %d: %w", seq, err)
	}
	return nil
}

// expire drops the pending records older than MaxAge, counting them under
// ReasonAge (the count and the new floor are on disk before the records
// go: see dropTo).
func (l *Log) expire() error {
	l.ackMu.Lock()
	defer l.ackMu.Unlock()
	l.mu.Lock()
	now := l.opts.now()
	cutoff := now.Add(-l.opts.MaxAge).UnixNano()
	due := !l.closed && l.head.seq <= l.written && l.head.time < cutoff
	l.mu.Unlock()
	if !due {
		return nil
	}
	if err := l.advance(target{byTime: true, cutoff: cutoff}, ReasonAge); err != nil {
		return fmt.Errorf("age drop: %w", err)
	}
	return nil
}

// advance moves the head forward to target t, deleting the segments left
// behind. With reason "" the records passed are acknowledged (the cursor on
// disk says so already); otherwise they are dropped and counted under
// reason (dropTo). The caller holds l.ackMu or is Open.
func (l *Log) advance(t target, reason string) error {
	for {
		l.mu.Lock()
		for len(l.segs) > 1 && (l.head.seq >= l.segs[0].next() || t.before(l.segs[0])) {
			if err := l.pass(reason, l.segs[0], l.segs[0].end()); err != nil {
				l.mu.Unlock()
				return err
			}
			l.removeFirst()
		}
		s := l.segs[0]
		if l.head.seq >= s.next() || t.reached(l.head.seq, l.head.time) {
			l.mu.Unlock()
			return nil
		}
		if t.before(s) {
			// s is the active segment and every live record in it goes.
			err := l.pass(reason, s, s.end())
			l.mu.Unlock()
			return err
		}
		from := l.seekStart(s, t)
		limit := s.size
		s.refs++
		l.mu.Unlock()

		p, err := s.seek(from, limit, t)

		l.mu.Lock()
		l.release(s)
		if err != nil {
			l.mu.Unlock()
			return err
		}
		if l.segs[0] != s || p.off < s.size && p.off == limit {
			// s was deleted meanwhile (drop-oldest), or records were
			// appended past the scanned end: start again.
			l.mu.Unlock()
			continue
		}
		if p.seq > l.head.seq {
			if err := l.pass(reason, s, p); err != nil {
				l.mu.Unlock()
				return err
			}
			l.gc()
		}
		l.mu.Unlock()
		return nil
	}
}

// pass moves the head to end, a position in s (segs[0]): over acknowledged
// records if reason is "", else dropping them under reason. l.mu must be
// held, and l.ackMu too if reason is not "".
func (l *Log) pass(reason string, s *segment, end pos) error {
	if reason != "" {
		return l.dropTo(reason, s, end)
	}
	if end.seq > l.head.seq {
		l.head = end
	}
	return nil
}

// seekStart returns the furthest known position in s, at or after the head,
// that has not reached t. l.mu must be held and s must be segs[0].
func (l *Log) seekStart(s *segment, t target) pos {
	p := l.head
	for _, m := range s.marks {
		if m.seq <= p.seq {
			continue
		}
		if t.reached(m.seq, m.time) {
			break
		}
		p = m
	}
	if h := l.hint; !t.byTime && h.seg == s && h.p.seq > p.seq && h.p.seq <= t.seq {
		p = h.p
	}
	return p
}
