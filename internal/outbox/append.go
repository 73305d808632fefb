package outbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// request is one Append waiting for the flusher.
type request struct {
	data   []byte
	weight uint32
	size   int64 // bytes the record takes on disk

	// Set by the flusher before it closes done.
	seq  uint64
	err  error
	done chan struct{}
}

// errNoRoom tells the flusher that a request fits only once the records
// planned before it are written.
var errNoRoom = errors.New("no room before the rest of the batch is written")

// Append writes one record durably (per Options.SyncInterval) and returns
// its sequence number. weight is the number of points inside data (for
// exact drop counting). Safe for concurrent use; concurrent Appends are
// group-committed: one write and one fsync for many callers. When Append
// returns nil the record survives kill -9 (and, with SyncInterval 0, power
// failure).
//
// When ctx ends while the record is queued, Append returns ctx.Err() and the
// record may or may not be stored; a caller that retries may store it twice.
func (l *Log) Append(ctx context.Context, data []byte, weight int) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p, err := l.Enqueue(data, weight)
	if err != nil {
		return 0, err
	}
	select {
	case <-p.Done():
		return p.Result()
	case <-ctx.Done():
		return 0, fmt.Errorf("outbox: append abandoned, record may be stored: %w", ctx.Err())
	}
}

// Pending is a record Enqueue queued: durable (per Options.SyncInterval)
// once Done is closed and Result returns no error.
type Pending struct{ r *request }

// Done is closed once the record is durable or failed.
func (p *Pending) Done() <-chan struct{} { return p.r.done }

// Result is the record's sequence number, or why it was not stored; call it
// after Done is closed.
func (p *Pending) Result() (uint64, error) { return p.r.seq, p.r.err }

// Enqueue queues one record as Append does and returns at once: the caller
// waits for Done (or not, when nobody is told the record is stored), so that
// it can take in more while the record is on its way to disk. Records are
// stored in the order they were queued. Errors returned here are the ones Append returns
// before queuing (ErrTooLarge, ErrClosed); the rest come from Result.
func (l *Log) Enqueue(data []byte, weight int) (*Pending, error) {
	if weight < 0 || weight > math.MaxUint32 {
		return nil, fmt.Errorf("outbox: append: weight %d out of range", weight)
	}
	size := recHeaderLen + int64(len(data))
	if len(data) > MaxRecordBytes || size > l.opts.MaxBytes-segHeaderLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	r := &request{data: data, weight: uint32(weight), size: size, done: make(chan struct{})}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	l.queue = append(l.queue, r)
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default: // the flusher is already woken up
	}
	return &Pending{r: r}, nil
}

// flushLoop is the only writer of segment data. It writes the queued
// records in batches until Close, and drains the queue before it exits.
func (l *Log) flushLoop() {
	defer l.wg.Done()
	for {
		select {
		case <-l.kick:
			l.drain()
		case <-l.stop:
			l.drain()
			return
		}
	}
}

// groupWait bounds how long the flusher waits for callers to join a batch.
const groupWait = 100 * time.Microsecond

// drain writes batches until the queue is empty.
//
// With SyncInterval 0 every batch costs an fsync, so batches should be as
// large as the number of concurrent callers: the callers a batch releases
// usually append again within microseconds. The flusher therefore waits (at
// most groupWait) until the queue is as long as the largest of the last
// batches, which adapts to the concurrency within a few batches.
func (l *Log) drain() {
	for {
		if l.opts.SyncInterval == 0 && l.recentBatch > 1 {
			l.gather(l.recentBatch)
		}
		l.mu.Lock()
		batch := l.queue
		l.queue = nil
		l.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		// Forget old concurrency slowly: halve every 8 batches.
		l.batches++
		if l.batches%8 == 0 {
			l.recentBatch /= 2
		}
		l.recentBatch = max(l.recentBatch, len(batch))
		for len(batch) > 0 {
			batch = l.writeBatch(batch)
		}
	}
}

// gather waits until the queue holds want requests, for at most groupWait.
func (l *Log) gather(want int) {
	if l.gatherTimer == nil {
		l.gatherTimer = time.NewTimer(groupWait)
	} else {
		l.gatherTimer.Reset(groupWait)
	}
	defer l.gatherTimer.Stop()
	for {
		l.mu.Lock()
		n := len(l.queue)
		l.mu.Unlock()
		if n >= want || n == 0 {
			return
		}
		select {
		case <-l.kick:
		case <-l.gatherTimer.C:
			return
		case <-l.stop:
			return
		}
	}
}

// writeBatch writes as many records of batch as it can in one write (and
// one fsync if SyncInterval is 0) and completes their requests. It returns
// the requests it left for another write.
func (l *Log) writeBatch(batch []*request) (rest []*request) {
	// Dropping records writes the cursor file, whose writers hold l.ackMu
	// (taken before l.mu): take it if this batch may have to drop.
	if l.mayDrop(batch) {
		l.ackMu.Lock()
		defer l.ackMu.Unlock()
	}
	l.mu.Lock()
	now := l.opts.now()
	if l.opts.MaxAge > 0 && l.head.seq <= l.written && l.head.time < now.Add(-l.opts.MaxAge).UnixNano() {
		select {
		case l.expireKick <- struct{}{}:
		default:
		}
	}
	if a := l.segs[len(l.segs)-1]; a.records > 0 && a.size >= l.opts.SegmentBytes {
		if err := l.roll(); err != nil {
			l.mu.Unlock()
			complete(batch, fmt.Errorf("outbox: append: %w", err))
			return nil
		}
	}
	take := batch[:0:0]
	var refused []*request
	var bytes int64
	for i, r := range batch {
		err := l.makeRoom(bytes + r.size)
		if errors.Is(err, errNoRoom) {
			rest = batch[i:]
			break
		}
		if err != nil {
			r.err = err
			refused = append(refused, r)
			continue
		}
		take = append(take, r)
		bytes += r.size
	}
	if len(take) == 0 {
		l.mu.Unlock()
		complete(refused, nil)
		return rest
	}
	s := l.segs[len(l.segs)-1]
	if l.dirtyTail {
		if err := s.f.Truncate(s.size); err != nil {
			l.mu.Unlock()
			complete(refused, nil)
			complete(take, fmt.Errorf("outbox: append: truncate failed write in %s: %w", s.name, err))
			return rest
		}
		l.dirtyTail = false
	}
	off := s.size
	t := max(now.UnixNano(), l.lastTime)
	first := l.next
	for _, r := range take {
		r.seq = l.next
		l.next++
	}
	l.mu.Unlock()

	buf := l.wbuf[:0]
	for _, r := range take {
		buf = appendRecord(buf, r.seq, t, r.weight, r.data)
	}
	_, err := s.f.WriteAt(buf, off)
	if err == nil && l.opts.SyncInterval == 0 {
		err = s.f.Sync()
	}
	if cap(buf) <= 4<<20 {
		l.wbuf = buf
	} else {
		l.wbuf = nil
	}

	l.mu.Lock()
	if err != nil {
		// Take back the partial write so the segment ends with a complete
		// record, and give the sequence numbers back: nothing after first
		// was assigned meanwhile, as only this goroutine assigns them.
		err = fmt.Errorf("outbox: append: write segment %s: %w", s.name, err)
		if terr := s.f.Truncate(off); terr != nil {
			l.dirtyTail = true
			l.log.Error("outbox: cannot truncate failed write; retrying before the next one", "segment", s.name, "err", terr)
		}
		l.next = first
		l.freeActive(s)
	} else {
		p := pos{seq: first, off: off, points: s.points}
		for _, r := range take {
			h := header{length: uint32(len(r.data)), seq: r.seq, time: t, weight: r.weight}
			if l.head.seq == r.seq {
				l.head.time = t
			}
			s.add(p, h)
			p.seq++
			p.off += h.size()
			p.points += int64(h.weight)
		}
		l.diskBytes += bytes
		l.lastTime = t
		l.written = l.next - 1
		if l.opts.SyncInterval == 0 {
			l.durable = l.written
			l.wake()
		}
	}
	l.mu.Unlock()
	complete(refused, nil)
	complete(take, err)
	return rest
}

// complete finishes requests, with err unless it is nil.
func complete(rs []*request, err error) {
	for _, r := range rs {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
}

// mayDrop reports whether writing batch may make makeRoom drop records:
// with DropOldest, when the batch and the headers of the segments a roll
// may start do not fit. As only the flusher adds bytes, a batch found not
// to need room will not need it. The caller must be the flusher.
func (l *Log) mayDrop(batch []*request) bool {
	if l.opts.Full != DropOldest {
		return false
	}
	need := int64(2 * segHeaderLen) // writeBatch and makeRoom may each roll once
	for _, r := range batch {
		need += r.size
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.diskBytes+need > l.opts.MaxBytes
}

// makeRoom makes sure need more bytes fit within MaxBytes, by deleting
// segments and rolling as Options.Full allows. It returns ErrFull if the
// policy refuses, errNoRoom if only writing the records planned so far
// (part of need) would allow it, and the error of a drop whose count could
// not be written (nothing is dropped then). l.mu must be held, and l.ackMu
// too where mayDrop says so.
func (l *Log) makeRoom(need int64) error {
	for l.diskBytes+need > l.opts.MaxBytes {
		s0 := l.segs[0]
		live := l.head.seq < s0.next()
		if live && l.opts.Full == RejectNew {
			l.cur.rejected++
			l.curDirty = true
			return ErrFull
		}
		if len(l.segs) > 1 {
			if err := l.dropFirst(ReasonFull); err != nil {
				return fmt.Errorf("outbox: append: make room: %w", err)
			}
			continue
		}
		if s0.records == 0 {
			return errNoRoom // Append refuses records that cannot fit alone
		}
		// One segment holds everything: roll so that it can go.
		if err := l.roll(); err != nil {
			return fmt.Errorf("outbox: append: make room: %w", err)
		}
	}
	return nil
}

// freeActive gives back the space of the active segment s after a write
// to it failed (a full disk, say), if every record in it is acknowledged
// or dropped: otherwise it would only go once it reaches SegmentBytes and
// rolls, which a full disk never lets it do. It empties the file, starts
// a new segment and deletes s. l.mu must be held and the caller must be
// the flusher.
func (l *Log) freeActive(s *segment) {
	if s.records == 0 || l.head.seq < s.next() || s.refs > 0 {
		return
	}
	if err := s.f.Truncate(segHeaderLen); err != nil {
		l.log.Error("outbox: cannot free the acknowledged active segment", "segment", s.name, "err", err)
		return
	}
	l.dirtyTail = false
	if err := l.roll(); err != nil {
		l.log.Error("outbox: cannot free the acknowledged active segment", "segment", s.name, "err", err)
	}
}

// roll closes the active segment for writing and starts a new one named
// after l.next. With SyncInterval > 0 it fsyncs the old segment first,
// which makes all its records durable. l.mu must be held and the caller
// must be the flusher.
func (l *Log) roll() error {
	old := l.segs[len(l.segs)-1]
	truncated := false
	if l.dirtyTail {
		if err := old.f.Truncate(old.size); err != nil {
			return fmt.Errorf("roll: truncate failed write in %s: %w", old.name, err)
		}
		l.dirtyTail, truncated = false, true
	}
	if l.opts.SyncInterval > 0 || truncated {
		if err := old.f.Sync(); err != nil {
			return fmt.Errorf("roll: fsync segment %s: %w", old.name, err)
		}
	}
	s, err := createSegment(l.dir, l.next)
	if err != nil {
		return fmt.Errorf("roll: %w", err)
	}
	l.segs = append(l.segs, s)
	l.diskBytes += s.size
	if old.records > 0 && old.next()-1 > l.durable {
		l.durable = old.next() - 1
		l.wake()
	}
	l.gc()
	return nil
}
