package sparkplug

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// Reasons under which Status.Rejected counts messages and metrics, besides
// those of uns (invalid_path, wrong_type, non_finite, bad_timestamp).
const (
	ReasonNotProtobuf  = "not_protobuf"     // the payload does not parse, or is over a limit
	ReasonBadTopic     = "bad_topic"        // not spBv1.0/group/type/edge_node[/device]
	ReasonUnmatched    = "unmatched_topic"  // a group no configured group matches
	ReasonNoBirth      = "no_birth"         // data for an edge node or device whose birth the host has not seen
	ReasonUnknownAlias = "unknown_alias"    // an alias its birth did not declare
	ReasonUnknownName  = "unknown_metric"   // a metric name its birth did not declare
	ReasonNoName       = "unnamed_metric"   // a birth metric without a name
	ReasonUnsupported  = "unsupported_type" // datasets, templates, arrays, UUID, bytes, files
	ReasonOutOfRange   = "out_of_range"     // a UInt64 above 2^63-1
	ReasonStaleDeath   = "stale_death"      // an NDEATH whose bdSeq is not the current birth's, or for a node not alive
)

// Metric names of the protocol itself, not written as series.
const (
	bdSeqMetric   = "bdSeq"
	controlPrefix = "Node Control/"
	// RebirthMetric is the NCMD metric that requests a rebirth.
	RebirthMetric = "Node Control/Rebirth"
)

// maxMS bounds metric timestamps (unix ms, year 2200), so that they fit
// in unix ns.
const maxMS = 7258118400000

// nodeKey identifies an edge node.
type nodeKey struct{ group, node string }

// metric is what a birth declared of one metric, and its last value.
type metric struct {
	name   string
	device string // "" for a node metric
	path   string // "" if the name maps onto no valid path (pathErr)
	err    error
	dt     DataType
	last   uns.Value
	lastTS int64 // unix ns; valid if last is
}

// node is the host's view of one edge node.
type node struct {
	key     nodeKey
	tpl     *template
	alive   bool // an NBIRTH and no matching NDEATH since
	bdSeq   uint64
	hasBd   bool
	next    uint8           // expected seq of the next message
	gaps    map[uint8]int64 // missing seqs and when they stop being awaited (unix ns)
	asked   int64           // when a rebirth request was last sent (unix ns)
	ask     bool            // a rebirth request is to be sent (n is in host.pending)
	names   map[string]*metric
	aliases map[uint64]*metric
	devices map[string]*device
}

type device struct {
	name  string
	alive bool
	names map[string]*metric
}

// host is the state of a Sparkplug host application: the edge nodes it
// knows, their births and seqs. It is not safe for concurrent use: the
// input's writer goroutine owns it.
type host struct {
	groups  []group
	reorder int64 // ns
	rebirth bool
	nodes   map[nodeKey]*node
	gapped  map[*node]struct{} // nodes with open seq gaps

	// pending are the edge nodes to send a rebirth request to, once the
	// input can publish; a node is in it at most once (node.ask).
	pending []*node

	// Observers, called on the writer goroutine.
	reject func(reason, msg string)
	lost   func(messages int, msg string) // messages a seq gap lost for good

	p Payload // reused
}

func newHost(groups []group, reorder time.Duration, rebirth bool) *host {
	return &host{
		groups:  groups,
		reorder: int64(reorder),
		rebirth: rebirth,
		nodes:   make(map[nodeKey]*node),
		gapped:  make(map[*node]struct{}),
		reject:  func(string, string) {},
		lost:    func(int, string) {},
	}
}

// handle decodes one message and appends its points to pts. recv is when
// it arrived (unix ns).
func (h *host) handle(pts []uns.Point, topic string, payload []byte, recv int64) []uns.Point {
	t, err := ParseTopic(topic)
	if err != nil {
		h.reject(ReasonBadTopic, err.Error())
		return pts
	}
	var g *group
	for i := range h.groups {
		if h.groups[i].name == "+" || h.groups[i].name == t.Group {
			g = &h.groups[i]
			break
		}
	}
	if g == nil {
		h.reject(ReasonUnmatched, fmt.Sprintf("topic %.128q: group %q is not configured", topic, t.Group))
		return pts
	}
	if t.Type == NCMD || t.Type == DCMD {
		return pts // commands, ours or another host's
	}
	p := &h.p
	if err := Decode(payload, p); err != nil {
		h.reject(ReasonNotProtobuf, fmt.Sprintf("topic %.128q: %v", topic, err))
		return pts
	}
	key := nodeKey{t.Group, t.Node}
	n := h.nodes[key]
	if t.Type == NBIRTH {
		if n == nil {
			n = &node{key: key, tpl: &g.path}
			h.nodes[key] = n
		}
		return h.nodeBirth(pts, n, p, recv)
	}
	if t.Type == NDEATH {
		return h.nodeDeath(pts, n, p, topic, recv)
	}
	if n == nil || !n.alive {
		h.reject(ReasonNoBirth, fmt.Sprintf("topic %.128q: %s before the edge node's NBIRTH", topic, t.Type))
		if n == nil {
			n = &node{key: key, tpl: &g.path}
			h.nodes[key] = n
		}
		h.askRebirth(n, recv)
		return pts
	}
	h.sequence(n, p, recv)
	switch t.Type {
	case NDATA:
		return h.data(pts, n, nil, p, topic, recv)
	case DBIRTH:
		return h.deviceBirth(pts, n, t.Device, p, recv)
	}
	d := n.devices[t.Device]
	if d == nil || !d.alive {
		if t.Type == DDEATH {
			return pts // dead already, or never born: nothing to mark
		}
		h.reject(ReasonNoBirth, fmt.Sprintf("topic %.128q: DDATA before the device's DBIRTH", topic))
		h.askRebirth(n, recv)
		return pts
	}
	if t.Type == DDEATH {
		d.alive = false
		return stale(pts, d.names, msTS(p.Timestamp, recv))
	}
	return h.data(pts, n, d, p, topic, recv)
}

// nodeBirth starts n afresh from an NBIRTH: its bdSeq, seq, metrics and
// aliases. Its devices must be born again (DBIRTH follows an NBIRTH).
func (h *host) nodeBirth(pts []uns.Point, n *node, p *Payload, recv int64) []uns.Point {
	n.alive = true
	n.ask = false // a request not yet sent would only bring this birth again
	n.hasBd = false
	n.next = uint8(p.Seq + 1)
	n.names = make(map[string]*metric, len(p.Metrics))
	n.aliases = make(map[uint64]*metric, len(p.Metrics))
	n.devices = make(map[string]*device)
	h.closeGaps(n)
	for i := range p.Metrics {
		if m := &p.Metrics[i]; m.Name == bdSeqMetric {
			if v, err := m.Value(UInt64); err == nil {
				n.bdSeq, n.hasBd = uint64(v.Int()), true
			}
		}
	}
	return h.birth(pts, n, "", n.names, p, recv)
}

// deviceBirth (re)declares the metrics of one device of n.
func (h *host) deviceBirth(pts []uns.Point, n *node, dev string, p *Payload, recv int64) []uns.Point {
	d := n.devices[dev]
	if d != nil {
		for a, m := range n.aliases {
			if m.device == dev {
				delete(n.aliases, a)
			}
		}
	}
	d = &device{name: dev, alive: true, names: make(map[string]*metric, len(p.Metrics))}
	n.devices[dev] = d
	return h.birth(pts, n, dev, d.names, p, recv)
}

// birth declares the metrics of a birth in names (and n's aliases) and
// appends the values it carries.
func (h *host) birth(pts []uns.Point, n *node, dev string, names map[string]*metric, p *Payload, recv int64) []uns.Point {
	for i := range p.Metrics {
		mm := &p.Metrics[i]
		if mm.Name == "" {
			h.reject(ReasonNoName, fmt.Sprintf("%s/%s: birth metric %d has no name", n.key.group, n.key.node, i))
			continue
		}
		if dev == "" && (mm.Name == bdSeqMetric || strings.HasPrefix(mm.Name, controlPrefix)) {
			continue
		}
		m := names[mm.Name]
		if m == nil {
			m = &metric{name: mm.Name, device: dev}
			m.path, m.err = n.tpl.apply(n.key.group, n.key.node, dev, mm.Name)
			names[mm.Name] = m
		}
		m.dt = mm.Datatype
		if mm.HasAlias {
			n.aliases[mm.Alias] = m
		}
		pts = h.point(pts, m, mm, p.Timestamp, recv)
	}
	return pts
}

// data appends the values of an NDATA (d nil) or DDATA.
func (h *host) data(pts []uns.Point, n *node, d *device, p *Payload, topic string, recv int64) []uns.Point {
	names := n.names
	dev := ""
	if d != nil {
		names = d.names
		dev = d.name
	}
	for i := range p.Metrics {
		mm := &p.Metrics[i]
		var m *metric
		if mm.HasAlias {
			if m = n.aliases[mm.Alias]; m == nil || m.device != dev {
				h.reject(ReasonUnknownAlias, fmt.Sprintf("topic %.128q: alias %d not declared in the birth", topic, mm.Alias))
				h.askRebirth(n, recv)
				continue
			}
		} else if m = names[mm.Name]; m == nil {
			if dev == "" && (mm.Name == bdSeqMetric || strings.HasPrefix(mm.Name, controlPrefix)) {
				continue
			}
			h.reject(ReasonUnknownName, fmt.Sprintf("topic %.128q: metric %.64q not declared in the birth", topic, mm.Name))
			h.askRebirth(n, recv)
			continue
		}
		pts = h.point(pts, m, mm, p.Timestamp, recv)
	}
	return pts
}

// point appends the value of mm, a reading of m, if it has one.
func (h *host) point(pts []uns.Point, m *metric, mm *Metric, payloadTS uint64, recv int64) []uns.Point {
	if mm.IsNull || mm.Field == NoValue {
		return pts
	}
	if m.err != nil {
		h.reject(uns.ReasonInvalidPath, fmt.Sprintf("metric %.64q: %v", m.name, m.err))
		return pts
	}
	dt := mm.Datatype
	if dt == 0 {
		dt = m.dt
	}
	v, err := mm.Value(dt)
	if err != nil {
		reason := uns.ReasonWrongType
		switch {
		case errors.Is(err, errUnsupported):
			reason = ReasonUnsupported
		case errors.Is(err, errOutOfRange):
			reason = ReasonOutOfRange
		case errors.Is(err, errNonFinite):
			reason = uns.ReasonNonFinite
		}
		h.reject(reason, fmt.Sprintf("%s: datatype %d: %v", m.path, dt, err))
		return pts
	}
	ms := mm.Timestamp
	if ms == 0 {
		ms = payloadTS
	}
	if ms > maxMS {
		h.reject(uns.ReasonBadTS, fmt.Sprintf("%s: timestamp %d ms is after 2200", m.path, ms))
		return pts
	}
	ts := msTS(ms, recv)
	if !mm.IsHistorical && (m.last.Kind() == uns.KindInvalid || ts >= m.lastTS) {
		m.last, m.lastTS = v, ts
	}
	return append(pts, uns.Point{Series: m.path, TS: ts, Value: v})
}

// msTS is ms in unix ns, or recv if ms is 0 (absent).
func msTS(ms uint64, recv int64) int64 {
	if ms == 0 || ms > maxMS {
		return recv
	}
	return int64(ms) * int64(time.Millisecond)
}

// nodeDeath handles an NDEATH: if it matches the current birth (bdSeq),
// the node and its devices die and their metrics are marked stale at the
// time the NDEATH arrived (its payload was written at connect time, as the
// node's will).
func (h *host) nodeDeath(pts []uns.Point, n *node, p *Payload, topic string, recv int64) []uns.Point {
	if n == nil || !n.alive {
		h.reject(ReasonStaleDeath, fmt.Sprintf("topic %.128q: the edge node is not alive", topic))
		return pts
	}
	var bd uint64
	has := false
	for i := range p.Metrics {
		if m := &p.Metrics[i]; m.Name == bdSeqMetric {
			if v, err := m.Value(UInt64); err == nil {
				bd, has = uint64(v.Int()), true
			}
		}
	}
	if n.hasBd && (!has || bd != n.bdSeq) {
		h.reject(ReasonStaleDeath, fmt.Sprintf("topic %.128q: bdSeq %d, the current birth's is %d", topic, bd, n.bdSeq))
		return pts
	}
	n.alive = false
	h.closeGaps(n)
	pts = stale(pts, n.names, recv)
	for _, d := range n.devices {
		if d.alive {
			d.alive = false
			pts = stale(pts, d.names, recv)
		}
	}
	return pts
}

// stale appends, for every metric of names with a known value, that value
// with quality bad at ts, or just after the metric's last value if that is
// later, so that the stale mark is the series' latest point.
func stale(pts []uns.Point, names map[string]*metric, ts int64) []uns.Point {
	for _, m := range names {
		if m.last.Kind() == uns.KindInvalid || m.err != nil {
			continue
		}
		at := max(ts, m.lastTS+1)
		pts = append(pts, uns.Point{Series: m.path, TS: at, Value: m.last, Quality: uns.Bad})
		m.lastTS = at
	}
	return pts
}

// staleAll marks every metric of every live node and device stale at ts:
// the host lost the broker, so it no longer knows their values are current.
// Births are kept: with a persistent session the broker delivers what was
// published meanwhile, and a seq gap asks for a rebirth.
func (h *host) staleAll(pts []uns.Point, ts int64) []uns.Point {
	for _, n := range h.nodes {
		if !n.alive {
			continue
		}
		pts = stale(pts, n.names, ts)
		for _, d := range n.devices {
			if d.alive {
				pts = stale(pts, d.names, ts)
			}
		}
	}
	return pts
}

// sequence checks p's seq against n's expected one. A seq ahead of it
// (by less than half the 0..255 ring) opens a gap for the seqs skipped,
// which a late message may still fill within the reorder timeout; a seq
// behind it fills a gap or is a redelivery.
func (h *host) sequence(n *node, p *Payload, recv int64) {
	if !p.HasSeq {
		return
	}
	s := uint8(p.Seq)
	switch d := s - n.next; {
	case d == 0:
		n.next++
	case d < 128:
		if n.gaps == nil {
			n.gaps = make(map[uint8]int64)
		}
		for q := n.next; q != s; q++ {
			n.gaps[q] = recv + h.reorder
		}
		h.gapped[n] = struct{}{}
		n.next = s + 1
	default:
		if _, ok := n.gaps[s]; ok {
			delete(n.gaps, s)
			if len(n.gaps) == 0 {
				delete(h.gapped, n)
			}
		}
	}
}

// expire requests a rebirth of every node with a seq gap older than the
// reorder timeout, and counts the messages lost.
func (h *host) expire(now int64) {
	for n := range h.gapped {
		late := false
		for _, deadline := range n.gaps {
			if deadline <= now {
				late = true
				break
			}
		}
		if !late {
			continue
		}
		h.lost(len(n.gaps), fmt.Sprintf("%s/%s: %d messages missing after %v", n.key.group, n.key.node, len(n.gaps), time.Duration(h.reorder)))
		h.closeGaps(n)
		h.askRebirth(n, now)
	}
}

func (h *host) closeGaps(n *node) {
	clear(n.gaps)
	delete(h.gapped, n)
}

// askRebirth queues a rebirth request for n, unless one is queued or one
// was sent less than a reorder timeout ago, so that a burst of undecodable
// data asks once.
func (h *host) askRebirth(n *node, now int64) {
	if !h.rebirth || n.ask || n.asked != 0 && now-n.asked < h.reorder {
		return
	}
	n.ask = true
	h.pending = append(h.pending, n)
}

// sendRebirths calls send for each queued rebirth request (unless a birth
// made it moot) and records when it was sent.
func (h *host) sendRebirths(now int64, send func(nodeKey)) {
	for _, n := range h.pending {
		if n.ask {
			send(n.key)
			n.ask, n.asked = false, now
		}
	}
	clear(h.pending)
	h.pending = h.pending[:0]
}

// RebirthRequest is the NCMD payload that asks an edge node to publish its
// births again.
func RebirthRequest(now time.Time) []byte {
	ms := uint64(now.UnixMilli())
	p := Payload{Timestamp: ms, Metrics: []Metric{{
		Name: RebirthMetric, Timestamp: ms, Datatype: Boolean, Field: BoolValue, Bits: 1,
	}}}
	return p.Append(nil)
}
