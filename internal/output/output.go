package output

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/molen-io/molen/internal/backoff"
	"github.com/molen-io/molen/internal/outbox"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// Sink sends points to an output's peer.
type Sink interface {
	// Send returns once the peer has pts (as far as its protocol says so:
	// a QoS 1 PUBACK, an HTTP 2xx). An error means the batch is sent again
	// after a back-off, unless it wraps ErrRefused.
	Send(ctx context.Context, pts []uns.Point) error
	// Target names the peer for the status, without credentials.
	Target() string
}

// Runner is a Sink that keeps a connection (an MQTT session) while ctx
// lives.
type Runner interface {
	Run(ctx context.Context) error
}

// ErrRefused wraps a peer's answer that the batch itself is wrong (an HTTP
// 400): sending it again would be refused again, so it is dropped and
// counted.
var ErrRefused = errors.New("refused by the peer")

// Forwarding limits of one output: a batch holds at most this much.
const (
	batchRecords = 256
	batchBytes   = 1 << 20
	retryMin     = 500 * time.Millisecond
	retryMax     = 30 * time.Second
)

// Output is one running output: its buffer, its sink and its counters.
type Output struct {
	name, kind string
	buf        *outbox.Log
	sink       Sink
	log        *slog.Logger

	sent     atomic.Int64 // points the peer accepted
	records  atomic.Int64 // records sent
	retried  atomic.Int64 // failed attempts, each retried
	refused  atomic.Int64 // points the peer refused (ErrRefused)
	unfed    atomic.Int64 // points the buffer did not take (too large, closed, write error)
	lastSent atomic.Int64 // unix ns of the last accepted batch
	failing  atomic.Bool

	mu      sync.Mutex // guards lastErr
	lastErr string
}

// Set is the edge's outputs. A nil *Set has none: every method works on it.
type Set struct {
	outs []*Output
}

// Open opens the buffers of cfgs under dir (dir/<name>) and builds their
// sinks. Close closes them.
func Open(dir string, cfgs []Configured, log *slog.Logger) (s *Set, err error) {
	if len(cfgs) == 0 {
		return nil, nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s = &Set{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	for _, c := range cfgs {
		l := log.With("output", c.Name, "kind", c.Kind)
		sink, err := c.Build(l)
		if err != nil {
			return nil, err
		}
		b := c.Config.buffer()
		max := b.MaxBytes
		if max == 0 {
			max = DefaultMaxBytes
		}
		buf, err := outbox.Open(filepath.Join(dir, c.Name), outbox.Options{
			MaxBytes: max, MaxAge: b.MaxAge, Full: outbox.DropOldest,
			SegmentBytes: max / 16, Log: l,
		})
		if err != nil {
			return nil, fmt.Errorf("%s: buffer: %w", c.Path, err)
		}
		s.outs = append(s.outs, &Output{name: c.Name, kind: c.Kind, buf: buf, sink: sink, log: l})
	}
	return s, nil
}

// Pending is records Enqueue queued, one per output.
type Pending struct {
	ps   []*outbox.Pending
	outs []*Output
	w    int
}

// Enqueue queues one record of the edge's outbox (an uplink record: points
// and events) for every output and returns at once. An output whose buffer
// refuses the record counts its points as dropped: an output never refuses
// the edge's data.
func (s *Set) Enqueue(data []byte, weight int) Pending {
	if s == nil {
		return Pending{}
	}
	p := Pending{outs: s.outs, ps: make([]*outbox.Pending, len(s.outs)), w: weight}
	for i, o := range s.outs {
		pd, err := o.buf.Enqueue(data, weight)
		if err != nil {
			o.unfed.Add(int64(weight))
			continue
		}
		p.ps[i] = pd
	}
	return p
}

// Wait waits until the records are durable in the outputs' buffers (or
// failed there, counted) or ctx ends.
func (p Pending) Wait(ctx context.Context) error {
	for i, pd := range p.ps {
		if pd == nil {
			continue
		}
		select {
		case <-pd.Done():
			if _, err := pd.Result(); err != nil {
				p.outs[i].unfed.Add(int64(p.w))
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Append is Enqueue and Wait.
func (s *Set) Append(ctx context.Context, data []byte, weight int) error {
	return s.Enqueue(data, weight).Wait(ctx)
}

// Run forwards every output's buffer to its peer, and runs the sinks that
// keep a connection, until ctx ends.
func (s *Set) Run(ctx context.Context) error {
	if s == nil {
		return nil
	}
	var wg sync.WaitGroup
	for _, o := range s.outs {
		if r, ok := o.sink.(Runner); ok {
			wg.Go(func() {
				if err := r.Run(ctx); err != nil && ctx.Err() == nil {
					o.log.Error("output stopped", "err", err)
				}
			})
		}
		wg.Go(func() { o.forward(ctx) })
	}
	wg.Wait()
	return nil
}

// Close closes the buffers; call it after Run returned.
func (s *Set) Close() error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, o := range s.outs {
		errs = append(errs, o.buf.Close())
	}
	return errors.Join(errs...)
}

// forward reads the output's buffer in order, sends each batch until the
// peer accepts it, and acknowledges it.
func (o *Output) forward(ctx context.Context) {
	next := o.buf.Acked() + 1
	retry := backoff.New(retryMin, retryMax)
	var pts []uns.Point
	var evs []uns.Event
	for {
		entries, err := o.buf.Read(next, batchRecords, batchBytes)
		if errors.Is(err, outbox.ErrClosed) || ctx.Err() != nil {
			return
		}
		if errors.Is(err, outbox.ErrWatermarkNeeded) {
			// The bound dropped records this loop held and did not send:
			// the peer has everything before next, nothing after.
			o.buf.Delivered(next-1, 0, 0)
			continue
		}
		if err != nil {
			o.fail(err)
			if !backoff.Sleep(ctx, retryMax) {
				return
			}
			continue
		}
		if len(entries) == 0 {
			if err := o.buf.Wait(ctx, next-1); err != nil {
				return
			}
			continue
		}
		pts = pts[:0]
		for _, en := range entries {
			// Records are the edge's own: one that does not decode is
			// damage the checksum missed; its points count as refused.
			p, e, err := uplink.DecodeRecord(pts, evs[:0], en.Data)
			if err != nil {
				o.refused.Add(int64(en.Weight))
				o.fail(fmt.Errorf("record %d: %w", en.Seq, err))
				continue
			}
			pts, evs = p, e
		}
		for len(pts) > 0 {
			err := o.sink.Send(ctx, pts)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				o.sent.Add(int64(len(pts)))
				o.lastSent.Store(time.Now().UnixNano())
				retry.Reset()
				if o.failing.Swap(false) {
					o.fail(nil)
					o.log.Info("output resumed")
				}
				break
			}
			if errors.Is(err, ErrRefused) {
				o.refused.Add(int64(len(pts)))
				o.fail(err)
				o.log.Error("the output's peer refused a batch; dropped", "points", len(pts), "err", err)
				break
			}
			o.retried.Add(1)
			wait := retry.Next()
			if !o.failing.Swap(true) {
				o.log.Warn("output failing; data stays buffered", "err", err, "retry_in", wait.Round(time.Millisecond))
			}
			o.fail(err)
			if !backoff.Sleep(ctx, wait) {
				return
			}
		}
		last := entries[len(entries)-1].Seq
		o.records.Add(int64(len(entries)))
		o.buf.Delivered(next-1, entries[0].Seq, last)
		if err := o.buf.Ack(last); err != nil {
			// Only means the batch is sent again after a restart.
			o.fail(err)
		}
		next = last + 1
	}
}

// fail notes err as the output's last error; nil clears it.
func (o *Output) fail(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	o.mu.Lock()
	o.lastErr = msg
	o.mu.Unlock()
}

// Status is an output's state for the status API, the hub's fleet page and
// `molen edge --check`.
type Status struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Target string `json:"target"`
	// State is "ok" (sending, or nothing to send), "retrying" (the peer
	// does not take the data; it stays buffered) or "idle" (nothing sent
	// yet).
	State     string    `json:"state"`
	LastError string    `json:"last_error,omitempty"`
	LastSent  time.Time `json:"last_sent,omitzero"`
	// Sent is points the peer accepted; Retried failed attempts; Dropped
	// points lost to the buffer's bound, refused by the peer, or not taken
	// into the buffer.
	Sent    int64 `json:"sent"`
	Retried int64 `json:"retried"`
	Dropped int64 `json:"dropped"`
	// Pending is points buffered and not yet sent; LagSeconds the age of
	// the oldest of them.
	Pending    int64   `json:"pending"`
	LagSeconds float64 `json:"lag_seconds"`
}

// Status returns the state of each output, in the file's order.
func (s *Set) Status() []Status {
	if s == nil {
		return nil
	}
	out := make([]Status, len(s.outs))
	for i, o := range s.outs {
		out[i] = o.status(time.Now())
	}
	return out
}

func (o *Output) status(now time.Time) Status {
	st := o.buf.Stats()
	s := Status{
		Name: o.name, Kind: o.kind, Target: o.sink.Target(),
		Sent: o.sent.Load(), Retried: o.retried.Load(),
		Dropped: o.refused.Load() + o.unfed.Load(),
		Pending: st.PendingPoints,
	}
	for _, d := range st.Dropped {
		s.Dropped += d.Points
	}
	if !st.OldestPending.IsZero() {
		s.LagSeconds = max(0, now.Sub(st.OldestPending).Seconds())
	}
	if t := o.lastSent.Load(); t != 0 {
		s.LastSent = time.Unix(0, t)
	}
	switch {
	case o.failing.Load():
		s.State = "retrying"
	case s.LastSent.IsZero():
		s.State = "idle"
	default:
		s.State = "ok"
	}
	o.mu.Lock()
	s.LastError = o.lastErr
	o.mu.Unlock()
	return s
}
