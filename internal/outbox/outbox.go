package outbox

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Policy says what Append does when the log is full.
type Policy int

// The policies.
const (
	DropOldest Policy = iota // delete the oldest whole unacknowledged segments, counting what they held
	RejectNew                // Append returns ErrFull
)

func (p Policy) String() string {
	switch p {
	case DropOldest:
		return "drop-oldest"
	case RejectNew:
		return "reject-new"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// Sentinel errors that callers act on.
var (
	ErrFull     = errors.New("outbox full")
	ErrClosed   = errors.New("outbox closed")
	ErrTooLarge = errors.New("outbox: record too large")
	ErrCorrupt  = errors.New("outbox: corrupt record")
	ErrLocked   = errors.New("outbox: locked")
	// ErrWatermarkNeeded is Read's answer while records that a bound
	// dropped from a reader's hands wait to be settled: the reader must ask
	// the receiver how far it has stored (sending no records) and pass that
	// to Delivered before it reads on (see Delivered).
	ErrWatermarkNeeded = errors.New("outbox: dropped records in flight: the receiver's watermark is needed")
)

// Defaults of Options.
const (
	DefaultSegmentBytes = 8 << 20
	DefaultMaxBytes     = 1 << 30
)

// closeTimeout bounds Close when the disk does not answer.
const closeTimeout = 10 * time.Second

// Options configure a Log. The zero value is usable.
type Options struct {
	SegmentBytes int64         // roll to a new segment file past this size; default 8 MiB, at most MaxBytes/4
	MaxBytes     int64         // bound on bytes held on disk (all segments); default 1 GiB
	MaxAge       time.Duration // records older than this are dropped (counted, reason "age"); 0 = no limit
	Full         Policy        // default DropOldest
	// SyncInterval 0 (default): fsync before Append returns, group commit
	// across concurrent callers. > 0: Append returns after write(2) and a
	// background fsync runs every SyncInterval; a power failure may lose up
	// to SyncInterval of records, kill -9 loses none.
	SyncInterval time.Duration
	Log          *slog.Logger // default slog.New(slog.DiscardHandler)

	now func() time.Time // clock; tests replace it
}

func (o Options) withDefaults() (Options, error) {
	switch {
	case o.SegmentBytes < 0:
		return o, fmt.Errorf("segment_bytes: must not be negative, got %d", o.SegmentBytes)
	case o.MaxBytes < 0:
		return o, fmt.Errorf("max_bytes: must not be negative, got %d", o.MaxBytes)
	case o.MaxAge < 0:
		return o, fmt.Errorf("max_age: must not be negative, got %s", o.MaxAge)
	case o.SyncInterval < 0:
		return o, fmt.Errorf("sync_interval: must not be negative, got %s", o.SyncInterval)
	case o.Full != DropOldest && o.Full != RejectNew:
		return o, fmt.Errorf("full: unknown policy %d", int(o.Full))
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxBytes < 4*(segHeaderLen+recHeaderLen) {
		return o, fmt.Errorf("max_bytes: must be at least %d, got %d", 4*(segHeaderLen+recHeaderLen), o.MaxBytes)
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	// Dropping works on whole segments: keep at least four so that a full
	// log drops a quarter of its data, not all of it.
	o.SegmentBytes = min(o.SegmentBytes, o.MaxBytes/4)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	return o, nil
}

// Entry is one record as Read returns it. Data belongs to the caller.
type Entry struct {
	Seq    uint64
	Time   int64 // unix ns of Append
	Weight int   // points in it
	Data   []byte
}

// Stats is a snapshot of a Log. Bytes count whole records (header and data).
// Dropped and Rejected count since the directory was initialised. A drop is
// on disk together with its count (see dropTo); Dropped leaves out records
// dropped from a reader's hands until Delivered, Ack or Close settles them.
// Rejected is persisted with the cursor at least every second.
type Stats struct {
	ID                          string
	FirstSeq, LastSeq, AckedSeq uint64 // FirstSeq: oldest record Read can still return; LastSeq: last appended
	PendingRecords              int64  // appended, not acknowledged and not dropped
	PendingPoints               int64  // sum of Weight of the pending records
	PendingBytes                int64
	OldestPending               time.Time // Append time of the oldest pending record; zero if none
	LastAppend                  time.Time // Append time of the newest record on disk or written since Open; zero if none
	DiskBytes                   int64
	Dropped                     map[string]DropCount // by reason: ReasonFull, ReasonAge, ReasonCorrupt
	Rejected                    int64                // Appends refused with ErrFull
}

// DropCount counts dropped records, the points in them and their bytes.
type DropCount struct{ Records, Points, Bytes int64 }

func (d DropCount) add(o DropCount) DropCount {
	return DropCount{d.Records + o.Records, d.Points + o.Points, d.Bytes + o.Bytes}
}

// Log is a durable, bounded, append-only log of records in a directory.
// All methods are safe for concurrent use.
type Log struct {
	dir  string
	opts Options
	log  *slog.Logger
	id   string // immutable after Open
	lock *os.File

	kick       chan struct{} // wakes the flusher when the queue fills; buffered
	expireKick chan struct{} // asks the housekeeper for an age check; buffered
	stop       chan struct{} // closed by Close: background goroutines drain and exit
	wg         sync.WaitGroup
	// Owned by the flusher goroutine.
	wbuf        []byte      // encoding buffer
	recentBatch int         // largest recent batch: the concurrency of Append
	batches     int         // batches written
	gatherTimer *time.Timer // bounds gather

	// ackMu serialises the writers of the cursor file (Ack, drops, counter
	// persistence, Close) and their head moves. It is taken before mu.
	ackMu sync.Mutex

	// mu guards everything below and the mutable fields of the segments.
	//
	// Invariants: segs is never empty; its last element is the active
	// segment, the only one written to, and every other segment holds at
	// least one record. head is the position, in segs[0], of the first
	// record that is neither acknowledged nor dropped (or the end of
	// segs[0] if there is none); segments other than segs[0] hold only such
	// records, as dead segments are deleted at once. durable <= written <
	// next; Read, Wait and Ack see records up to durable only.
	mu       sync.Mutex
	closed   bool
	queue    []*request
	segs     []*segment
	next     uint64 // seq of the next record
	lastTime int64  // append time of the last record: times never decrease
	written  uint64 // last seq written to its segment
	durable  uint64 // last seq known fsynced
	head     pos
	hint     readHint // where the last Read ended
	// sent is where the last Read that returned records ended: its last
	// seq + 1 and position (seg nil if not known). Records at or after the
	// head and before sent.p.seq are in a reader's hands.
	sent readHint
	// inflight holds records a bound dropped while a reader had them
	// (see dropTo): they count as dropped once it is clear they were not
	// delivered, and not at all if they were. While it is not empty, Read
	// returns ErrWatermarkNeeded.
	inflight  []inflightDrop
	reading   bool          // a Read is between its two locked sections
	diskBytes int64         // sum of segs[i].size
	dirtyTail bool          // the active segment may hold bytes of a failed write past its size
	cur       cursor        // acked, floor and counters; cur.dropped is never nil
	curDirty  bool          // cur has changes the cursor file lacks
	notify    chan struct{} // closed and replaced when durable grows or on Close
}

// readHint remembers the position after the last record Read returned, so
// that the next sequential Read or Ack does not scan from an index mark.
type readHint struct {
	seg *segment
	p   pos
}

// Open opens the log in dir, creating the directory if needed, and recovers
// it: torn tails are truncated, corrupt data is moved to dir/quarantine and
// counted, and the log continues after its last record.
func Open(dir string, opts Options) (*Log, error) {
	l, err := open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open outbox %s: %w", dir, err)
	}
	return l, nil
}

func open(dir string, opts Options) (l *Log, err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lockDir(lock); err != nil {
		lock.Close()
		return nil, err
	}
	l = &Log{
		dir:        dir,
		opts:       opts,
		log:        opts.Log.With("dir", dir),
		lock:       lock,
		kick:       make(chan struct{}, 1),
		expireKick: make(chan struct{}, 1),
		stop:       make(chan struct{}),
		notify:     make(chan struct{}),
	}
	defer func() {
		if err != nil {
			for _, s := range l.segs {
				s.f.Close()
			}
			lock.Close()
		}
	}()
	if err := l.loadID(); err != nil {
		return nil, err
	}
	l.cur = l.loadCursor()
	rec, err := l.recover()
	if err != nil {
		return nil, err
	}
	if rec.corrupt != (DropCount{}) {
		l.cur.dropped[ReasonCorrupt] = l.cur.dropped[ReasonCorrupt].add(rec.corrupt)
		l.curDirty = true
	}
	if rec.gaps > l.cur.gaps {
		l.cur.gaps = rec.gaps
		l.curDirty = true
	}
	if err := l.start(rec.seqFloor); err != nil {
		return nil, err
	}
	if err := l.persist(); err != nil {
		// Not fatal (a full disk must not stop the edge): the housekeeper
		// retries every second.
		l.log.Warn("outbox: persisting counters failed; retrying", "err", err)
	}
	l.wg.Add(2)
	go l.flushLoop()
	go l.housekeep()
	return l, nil
}

// start sets up the in-memory state from the recovered segments: the next
// sequence number, the active segment and the head.
func (l *Log) start(seqFloor uint64) error {
	next := max(seqFloor, l.cur.acked+1, l.cur.floor, 1)
	if n := len(l.segs); n > 0 {
		next = max(next, l.segs[n-1].next())
	}
	// The active segment must be named after next and continue it.
	if n := len(l.segs); n == 0 || l.segs[n-1].next() != next {
		if n > 0 && l.segs[n-1].records == 0 {
			last := l.segs[n-1]
			last.f.Close()
			if err := os.Remove(filepath.Join(l.dir, last.name)); err != nil {
				return fmt.Errorf("remove empty segment: %w", err)
			}
			l.segs = l.segs[:n-1]
		}
		s, err := createSegment(l.dir, next)
		if err != nil {
			return err
		}
		if m := len(l.segs); m > 0 && next > l.segs[m-1].next() && next > l.cur.gaps {
			// The seqs skipped here are those lost data could have held,
			// already counted: the gap is not a loss of its own.
			l.cur.gaps = next
			l.curDirty = true
		}
		l.segs = append(l.segs, s)
	}
	l.next = next
	l.written, l.durable = next-1, next-1
	for _, s := range l.segs {
		l.diskBytes += s.size
		if s.records > 0 {
			l.lastTime = max(l.lastTime, s.maxTime)
		}
	}
	l.head = l.segs[0].start()
	return l.advance(target{seq: max(l.cur.acked+1, l.cur.floor)}, "")
}

// ID is the log's incarnation: a random id created when the directory was
// first initialised and persisted in it. A new (wiped) directory gets a new
// ID, so a receiver that dedups by (ID, Seq) never mistakes fresh records
// for old ones.
func (l *Log) ID() string { return l.id }

// Acked returns the acknowledged cursor: every record with Seq <= Acked()
// was delivered.
func (l *Log) Acked() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur.acked
}

// Stats returns a snapshot of the log's state and counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := Stats{
		ID:        l.id,
		FirstSeq:  l.firstSeq(),
		LastSeq:   l.written,
		AckedSeq:  l.cur.acked,
		DiskBytes: l.diskBytes,
		Dropped:   maps.Clone(l.cur.dropped),
		Rejected:  l.cur.rejected,
	}
	for _, s := range l.segs {
		st.PendingRecords += s.records
		st.PendingPoints += s.points
		st.PendingBytes += s.size - segHeaderLen
	}
	s0 := l.segs[0]
	st.PendingRecords -= int64(l.head.seq - s0.first)
	st.PendingPoints -= l.head.points
	st.PendingBytes -= l.head.off - segHeaderLen
	if st.PendingRecords > 0 {
		st.OldestPending = time.Unix(0, l.head.time)
	}
	if l.lastTime != 0 {
		st.LastAppend = time.Unix(0, l.lastTime)
	}
	return st
}

// firstSeq is the oldest record Read may return. l.mu must be held.
func (l *Log) firstSeq() uint64 {
	s0 := l.segs[0]
	if s0.records == 0 {
		return l.next
	}
	return max(s0.first, l.cur.floor)
}

// wake tells Waiters that durable moved. l.mu must be held.
func (l *Log) wake() {
	close(l.notify)
	l.notify = make(chan struct{})
}

// release drops a reference to s taken under l.mu. l.mu must be held.
func (l *Log) release(s *segment) {
	s.refs--
	if s.refs == 0 && s.retired && !s.fileGone {
		s.fileGone = true
		if err := s.f.Close(); err != nil {
			l.log.Warn("close outbox segment", "segment", s.name, "err", err)
		}
	}
}

// retire closes s once no reader uses it. l.mu must be held.
func (l *Log) retire(s *segment) {
	s.retired = true
	s.refs++
	l.release(s)
}

// addDrop counts dropped records. l.mu must be held.
func (l *Log) addDrop(reason string, d DropCount) {
	if d.Records == 0 {
		return
	}
	l.cur.dropped[reason] = l.cur.dropped[reason].add(d)
	l.curDirty = true
}

// inflightDrop is records a bound dropped while a reader had them, or
// may have been being given them (open: a Read was in progress; it settles
// them when it ends). Each record's weight and size is kept, so that any
// part of them can be counted exactly.
type inflightDrop struct {
	reason string
	recs   []droppedRec
	open   bool
}

func (d inflightDrop) count() (n DropCount) {
	for _, r := range d.recs {
		n = n.add(DropCount{Records: 1, Points: r.points, Bytes: r.bytes})
	}
	return n
}

type droppedRec struct {
	seq           uint64
	points, bytes int64
}

// diskCursor is the cursor as it must be on disk: the settled counters
// plus the records in flight that a bound dropped, counted as dropped.
// Whether the receiver got those is known only from its answer to this
// process (Delivered); after a crash nobody can tell, so on disk they are
// counted from the moment they are dropped: high, never low. l.mu must be
// held.
func (l *Log) diskCursor() cursor {
	c := l.cur
	c.dropped = maps.Clone(c.dropped)
	for _, d := range l.inflight {
		c.dropped[d.reason] = c.dropped[d.reason].add(d.count())
	}
	return c
}

// dropTo drops the records from the head up to end, a position in s
// (segs[0]), under reason, and moves the head to end.
//
// A drop reaches the disk in one step with its count: the cursor file is
// written with the new counters and a floor at end before the head moves,
// and segments are deleted only once the head is past them. A crash
// therefore never loses a drop's count, nor counts a drop that did not
// happen (Open skips the records below the floor). If the cursor cannot
// be written nothing is dropped and the error is returned.
//
// Records a reader has been given, or is being given, and has not had
// acknowledged may still reach the receiver: in memory they wait in
// inflight until Delivered (what the receiver had stored), Ack or Close
// settles them; on disk they count as dropped (see diskCursor).
//
// l.ackMu (which orders the cursor's writers) and l.mu must be held.
func (l *Log) dropTo(reason string, s *segment, end pos) error {
	from := l.head
	if end.seq <= from.seq {
		return nil
	}
	mid := from
	switch {
	case l.reading:
		mid = end
	case l.sent.p.seq > from.seq:
		mid = end
		if l.sent.p.seq < end.seq && l.sent.seg == s {
			mid = l.sent.p
		}
	}
	var held *inflightDrop
	if mid.seq > from.seq {
		recs, err := s.headers(from, mid)
		if err == nil {
			held = &inflightDrop{reason: reason, recs: recs, open: l.reading}
			from = mid
		} else {
			l.log.Error("outbox: cannot read records being dropped; counting them as dropped now", "segment", s.name, "err", err)
		}
	}
	gone := DropCount{Records: int64(end.seq - from.seq), Points: end.points - from.points, Bytes: end.off - from.off}
	c := l.diskCursor()
	all := gone
	if held != nil {
		all = all.add(held.count())
	}
	c.dropped[reason] = c.dropped[reason].add(all)
	c.floor = max(c.floor, end.seq)
	if err := writeFileAtomic(l.dir, cursorFile, c.encode()); err != nil {
		return fmt.Errorf("count the drop of records %d-%d: write cursor: %w", l.head.seq, end.seq-1, err)
	}
	l.addDrop(reason, gone)
	if held != nil {
		l.inflight = append(l.inflight, *held)
		l.wake() // a waiting reader must learn the receiver's watermark (Read)
	}
	l.cur.floor = c.floor
	l.curDirty = false // the file has all of l.cur now
	l.head = end
	return nil
}

// settleRead ends the open in-flight drops when a Read ends: records no
// read has given (at or after sent) never will be, and count as dropped
// now; the others stay in flight. l.mu must be held.
func (l *Log) settleRead() {
	for i := range l.inflight {
		l.inflight[i].open = false
	}
	l.settleInflight(func(droppedRec) bool { return false }, func(r droppedRec) bool { return r.seq >= l.sent.p.seq })
}

// Delivered settles the records a bound dropped while a reader had them,
// given the receiver's answer to the reader's next request: the receiver
// had stored everything up to prev before it, and the request delivered
// the records first..last (first > last, e.g. 0, 0, for a request that
// carried none). Records up to prev and those of the request reached the
// receiver; the others never will, and count as dropped now. A reader that
// knows prev calls Delivered before Ack.
//
// The count is exact because the receiver's watermark can only have been
// moved by requests that held the dropped records: once records a reader
// had were dropped, Read returns ErrWatermarkNeeded until Delivered has
// settled them, so no request goes past them before the receiver says what
// it has. (A receiver that reads its watermark while an earlier attempt of
// the same batch is still being stored answers too low; that makes the
// count high, never low.)
func (l *Log) Delivered(prev, first, last uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleInflight(func(r droppedRec) bool { return r.seq <= prev || r.seq >= first && r.seq <= last },
		func(droppedRec) bool { return true })
}

// settleInflight settles the closed in-flight records: those delivered
// leave without a count, those undelivered are counted as dropped, the
// rest stay. l.mu must be held.
func (l *Log) settleInflight(delivered, undelivered func(droppedRec) bool) {
	kept := l.inflight[:0]
	for _, d := range l.inflight {
		if d.open {
			kept = append(kept, d)
			continue
		}
		rest := d.recs[:0]
		var gone DropCount
		for _, r := range d.recs {
			switch {
			case delivered(r):
				// Counted on disk as dropped (diskCursor): the next
				// cursor write takes the count back.
				l.curDirty = true
			case undelivered(r):
				gone = gone.add(DropCount{Records: 1, Points: r.points, Bytes: r.bytes})
			default:
				rest = append(rest, r)
			}
		}
		l.addDrop(d.reason, gone)
		if d.recs = rest; len(rest) > 0 {
			kept = append(kept, d)
		}
	}
	l.inflight = kept
}

// removeFirst deletes segs[0], which must not be the active segment and
// must hold no live record (the head is past it). l.mu must be held.
func (l *Log) removeFirst() {
	s := l.segs[0]
	// A segment that cannot be removed stays on disk; Open deletes it later
	// (the cursor on disk is past its records).
	if err := os.Remove(filepath.Join(l.dir, s.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		l.log.Error("remove outbox segment", "segment", s.name, "err", err)
	} else if err := syncDir(l.dir); err != nil {
		l.log.Error("remove outbox segment", "segment", s.name, "err", err)
	}
	l.segs = append(l.segs[:0], l.segs[1:]...)
	l.diskBytes -= s.size
	l.retire(s)
	if l.hint.seg == s {
		l.hint = readHint{}
	}
	l.head = l.segs[0].start()
}

// dropFirst drops the live records of segs[0], which must not be the
// active segment, under reason (see dropTo), and deletes it. l.ackMu and
// l.mu must be held.
func (l *Log) dropFirst(reason string) error {
	s := l.segs[0]
	if err := l.dropTo(reason, s, s.end()); err != nil {
		return err
	}
	l.removeFirst()
	return nil
}

// gc deletes leading segments that hold only acknowledged or dropped
// records. l.mu must be held.
func (l *Log) gc() {
	for len(l.segs) > 1 && l.head.seq >= l.segs[0].next() {
		l.removeFirst()
	}
}

// persist writes the cursor file if it lacks changes. It takes l.ackMu.
func (l *Log) persist() error {
	l.ackMu.Lock()
	defer l.ackMu.Unlock()
	return l.persistLocked()
}

// persistLocked is persist with l.ackMu held.
func (l *Log) persistLocked() error {
	l.mu.Lock()
	if !l.curDirty {
		l.mu.Unlock()
		return nil
	}
	c := l.diskCursor()
	l.curDirty = false
	l.mu.Unlock()
	if err := writeFileAtomic(l.dir, cursorFile, c.encode()); err != nil {
		l.mu.Lock()
		l.curDirty = true
		l.mu.Unlock()
		return fmt.Errorf("write cursor: %w", err)
	}
	return nil
}

// housekeep runs the periodic work of the log until Close: the fsync of
// SyncInterval, age drops, and persisting the drop counters.
func (l *Log) housekeep() {
	defer l.wg.Done()
	var syncC, ageC <-chan time.Time
	if d := l.opts.SyncInterval; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		syncC = t.C
	}
	if d := l.opts.MaxAge; d > 0 {
		t := time.NewTicker(min(max(d/10, 10*time.Millisecond), time.Minute))
		defer t.Stop()
		ageC = t.C
	}
	persistT := time.NewTicker(time.Second)
	defer persistT.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-syncC:
			if err := l.sync(); err != nil {
				// The records stay invisible to Read until a later fsync
				// succeeds; Close reports the failure if it persists.
				l.log.Error("outbox fsync failed", "err", err)
			}
		case <-ageC:
			l.expireLogged()
		case <-l.expireKick:
			l.expireLogged()
		case <-persistT.C:
			if err := l.persist(); err != nil {
				l.log.Warn("outbox: persisting counters failed; retrying", "err", err)
			}
		}
	}
}

func (l *Log) expireLogged() {
	if err := l.expire(); err != nil {
		l.log.Error("outbox age drop failed", "err", err)
	}
}

// sync fsyncs the active segment and makes the records written before it
// durable, and so visible to Read.
func (l *Log) sync() error {
	l.mu.Lock()
	if l.written <= l.durable {
		l.mu.Unlock()
		return nil
	}
	s := l.segs[len(l.segs)-1]
	target := l.written
	s.refs++
	l.mu.Unlock()
	// Records up to target are in s or in earlier segments, which were
	// fsynced when the log rolled past them.
	err := s.f.Sync()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.release(s)
	if err != nil {
		return fmt.Errorf("fsync segment %s: %w", s.name, err)
	}
	if target > l.durable {
		l.durable = target
		l.wake()
	}
	return nil
}

// Close flushes queued records, fsyncs, persists the cursor and closes the
// files. It is bounded in time: if the disk does not answer within
// closeTimeout, Close returns an error and leaves the rest behind. Appends
// after Close return ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.wake()
	l.mu.Unlock()
	close(l.stop)

	// Close writes the last cursor holding ackMu, so that no Ack, age drop
	// or counter persistence that started before Close (they check closed
	// only once they hold it) writes the cursor after it. Waiting for them
	// and for the flusher is bounded: if they do not finish in time, ackMu
	// is released once they do, and Close gives up.
	locked := make(chan struct{})
	go func() {
		l.wg.Wait()
		l.ackMu.Lock()
		close(locked)
	}()
	select {
	case <-locked:
	case <-time.After(closeTimeout):
		go func() {
			<-locked
			l.ackMu.Unlock()
		}()
		return fmt.Errorf("close outbox %s: %w", l.dir, errors.New("timed out flushing to disk"))
	}
	defer l.ackMu.Unlock()
	var errs []error
	if err := l.sync(); err != nil {
		errs = append(errs, err)
	}
	// Dropped records still in a reader's hands were not acknowledged by
	// now: count them as dropped (the cursor on disk already does). A
	// batch the receiver stored but whose answer never came is counted too:
	// the count may be one batch high.
	l.mu.Lock()
	l.settleInflight(func(droppedRec) bool { return false }, func(droppedRec) bool { return true })
	l.mu.Unlock()
	if err := l.persistLocked(); err != nil {
		errs = append(errs, err)
	}
	l.mu.Lock()
	for _, s := range l.segs {
		l.retire(s)
	}
	l.mu.Unlock()
	errs = append(errs, l.lock.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close outbox %s: %w", l.dir, err)
	}
	return nil
}
