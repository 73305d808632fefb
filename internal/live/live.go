package live

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// Defaults of Options.
const (
	DefaultBufferPoints = 100_000
	DefaultMaxStreams   = 8
	DefaultKeepalive    = 15 * time.Second
)

// Options tune a Hub. The zero value is usable.
type Options struct {
	// BufferPoints bounds each organisation's ring: points and events of
	// its newest messages; older messages are evicted. 0: DefaultBufferPoints.
	BufferPoints int
	// MaxStreams bounds the open streams of one caller (a person or a
	// token); 0: DefaultMaxStreams.
	MaxStreams int
	// Keepalive is the longest a stream stays silent: a comment line is
	// sent then. 0: DefaultKeepalive.
	Keepalive time.Duration
	// Registry gets the metrics; nil: none.
	Registry prometheus.Registerer
}

// ErrTooManyStreams refuses a stream beyond Options.MaxStreams.
var ErrTooManyStreams = errors.New("too many live streams")

// Message is one published batch's points or events (never both), as a
// stream sends it.
type Message struct {
	Seq    uint64
	Points []uns.Point
	Events []uns.Event
}

func (m *Message) size() int { return max(1, len(m.Points)+len(m.Events)) }

// ring holds an organisation's recent messages, oldest first.
type ring struct {
	msgs    []*Message
	points  int           // sum of sizes of msgs
	evicted uint64        // Seq of the newest evicted message; 0: none
	wake    chan struct{} // closed (and replaced) by each publish
}

// Hub fans published data out to the streams of each organisation.
type Hub struct {
	opts  Options
	epoch string // tells cursors of this process from those of another

	done      chan struct{} // closed by Close: streams end
	closeOnce sync.Once

	mu      sync.Mutex
	seq     uint64
	orgs    map[string]*ring
	callers map[string]int // open streams per caller

	streams prometheus.Gauge
	resets  *prometheus.CounterVec
	refused prometheus.Counter
}

// New returns a Hub.
func New(opts Options) *Hub {
	if opts.BufferPoints <= 0 {
		opts.BufferPoints = DefaultBufferPoints
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = DefaultMaxStreams
	}
	if opts.Keepalive <= 0 {
		opts.Keepalive = DefaultKeepalive
	}
	h := &Hub{
		opts:    opts,
		done:    make(chan struct{}),
		epoch:   strconv.FormatInt(time.Now().UnixNano(), 36),
		orgs:    map[string]*ring{},
		callers: map[string]int{},
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "molen_hub_live_streams",
			Help: "Open live streams (GET /api/v1/live)."}),
		resets: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_live_resets_total",
			Help: "Live stream resets, by reason: behind (the client read slower than data arrived and was dropped from the buffer), stale (it reconnected with a cursor the buffer no longer holds)."},
			[]string{"reason"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "molen_hub_live_refused_total",
			Help: "Live streams refused because their caller had the most open already."}),
	}
	h.resets.WithLabelValues("behind")
	h.resets.WithLabelValues("stale")
	if opts.Registry != nil {
		opts.Registry.MustRegister(h.streams, h.resets, h.refused)
	}
	return h
}

// Close ends every open stream (their clients reconnect to another hub, or
// to this one when it is back), so that a server shutting down does not
// wait for them. Close may be called more than once.
func (h *Hub) Close() { h.closeOnce.Do(func() { close(h.done) }) }

// Publish appends a committed batch of org: its points as one message, its
// events as another. It never waits for a stream.
func (h *Hub) Publish(org string, points []uns.Point, events []uns.Event) {
	if len(points) == 0 && len(events) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	rg := h.ring(org)
	if len(points) > 0 {
		h.seq++
		h.append(rg, &Message{Seq: h.seq, Points: points})
	}
	if len(events) > 0 {
		h.seq++
		h.append(rg, &Message{Seq: h.seq, Events: events})
	}
	close(rg.wake)
	rg.wake = make(chan struct{})
}

// ring returns org's ring, making it. The caller holds mu.
func (h *Hub) ring(org string) *ring {
	rg := h.orgs[org]
	if rg == nil {
		rg = &ring{wake: make(chan struct{})}
		h.orgs[org] = rg
	}
	return rg
}

// append adds m to rg and evicts the oldest messages beyond the bound. The
// caller holds mu.
func (h *Hub) append(rg *ring, m *Message) {
	rg.msgs = append(rg.msgs, m)
	rg.points += m.size()
	drop := 0
	for rg.points > h.opts.BufferPoints && drop < len(rg.msgs)-1 {
		rg.points -= rg.msgs[drop].size()
		rg.evicted = rg.msgs[drop].Seq
		drop++
	}
	if drop > 0 {
		clear(rg.msgs[:drop])
		rg.msgs = rg.msgs[drop:]
		// Reuse the array once the live part fits in its first half again.
		if len(rg.msgs) < cap(rg.msgs)/2 {
			rg.msgs = append(make([]*Message, 0, 2*len(rg.msgs)+1), rg.msgs...)
		}
	}
}

// Cursor formats seq of this process as the id of a message.
func (h *Hub) Cursor(seq uint64) string { return h.epoch + "-" + strconv.FormatUint(seq, 10) }

// parseCursor reads a cursor of this process: ok is false for one of
// another process (or garbage), which cannot be resumed.
func (h *Hub) parseCursor(s string) (seq uint64, ok bool) {
	epoch, n, found := strings.Cut(s, "-")
	if !found || epoch != h.epoch {
		return 0, false
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	return seq, err == nil
}

// since returns org's messages after seq, the channel the next publish
// closes, and whether seq can no longer be resumed (the ring evicted
// messages after it, or it is not of this process): then msgs is empty
// and head is the cursor to continue from.
func (h *Hub) since(org string, seq uint64) (msgs []*Message, wake <-chan struct{}, head uint64, reset bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rg := h.ring(org)
	if seq < rg.evicted || seq > h.seq {
		return nil, rg.wake, h.seq, true
	}
	i := len(rg.msgs)
	for i > 0 && rg.msgs[i-1].Seq > seq {
		i--
	}
	return rg.msgs[i:], rg.wake, h.seq, false
}

// head is the cursor of the newest message of any organisation.
func (h *Hub) head() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// open counts a stream of caller, refusing it beyond the bound.
func (h *Hub) open(caller string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.callers[caller] >= h.opts.MaxStreams {
		h.refused.Inc()
		return fmt.Errorf("%w: %d are open for this caller, the most there may be", ErrTooManyStreams, h.opts.MaxStreams)
	}
	h.callers[caller]++
	h.streams.Inc()
	return nil
}

// closed uncounts a stream of caller.
func (h *Hub) closed(caller string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.callers[caller]--; h.callers[caller] <= 0 {
		delete(h.callers, caller)
	}
	h.streams.Dec()
}

// PublishRecords publishes the points and events of committed records of
// org as one batch.
func (h *Hub) PublishRecords(org string, recs []store.Record) {
	var pts []uns.Point
	var evs []uns.Event
	for _, r := range recs {
		pts = append(pts, r.Points...)
		evs = append(evs, r.Events...)
	}
	h.Publish(org, pts, evs)
}
