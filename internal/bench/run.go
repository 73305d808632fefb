package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"
)

// sample is the rates and costs between two snapshots.
type sample struct {
	secs                               float64
	sent, received, accepted, fwd, hub float64 // per second; sent and received in messages, the rest in points
	edgeCPU, hubCPU, selfCPU           float64 // cores
	inputPoints                        float64 // per second: points of the edge's broker input
	backlog                            float64 // growth of the edge's pending points
	pending                            float64 // the edge's pending points at the end
	edgeRSS, hubRSS                    float64 // resident bytes at the end
}

func between(a, b snapshot) sample {
	secs := b.at.Sub(a.at).Seconds()
	d := func(m0, m1 metrics, name string) float64 { return (m1[name] - m0[name]) / secs }
	return sample{
		secs:        secs,
		sent:        float64(b.sent-a.sent) / secs,
		received:    d(a.edge, b.edge, "molen_edge_messages_received_total"),
		accepted:    d(a.edge, b.edge, "molen_edge_points_accepted_total"),
		fwd:         d(a.edge, b.edge, "molen_edge_forwarded_points_total"),
		inputPoints: d(a.edge, b.edge, "molen_edge_input_points_total"),
		hub:         d(a.hub, b.hub, "molen_hub_points_stored_total"),
		edgeCPU:     d(a.edge, b.edge, "process_cpu_seconds_total"),
		hubCPU:      d(a.hub, b.hub, "process_cpu_seconds_total"),
		selfCPU:     (b.self - a.self).Seconds() / secs,
		backlog:     b.edge["molen_edge_outbox_pending_points"] - a.edge["molen_edge_outbox_pending_points"],
		pending:     b.edge["molen_edge_outbox_pending_points"],
		edgeRSS:     b.edge["process_resident_memory_bytes"],
		hubRSS:      b.hub["process_resident_memory_bytes"],
	}
}

// window runs the load for d, looking at the edge's backlog every second,
// and returns the sample and the largest backlog's bytes per point.
func (s *stack) window(ctx context.Context, l *load, d time.Duration) (sample, float64, error) {
	a, err := s.snap(ctx, l)
	if err != nil {
		return sample{}, 0, err
	}
	var perPoint, most float64
	t := time.NewTicker(time.Second)
	defer t.Stop()
	end := time.After(d)
	for {
		select {
		case <-ctx.Done():
			return sample{}, 0, ctx.Err()
		case <-t.C:
			m, err := s.snap(ctx, l)
			if err != nil {
				return sample{}, 0, err
			}
			if p := m.edge["molen_edge_outbox_pending_points"]; p > most {
				most, perPoint = p, m.edge["molen_edge_outbox_pending_bytes"]/p
			}
		case <-end:
			b, err := s.snap(ctx, l)
			return between(a, b), perPoint, err
		}
	}
}

// wait waits for d (a warm-up: load runs meanwhile).
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *stack) measure(ctx context.Context) (*Result, error) {
	cfg := s.cfg
	lat := &latencies{}
	followCtx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	ready := make(chan error, 1)
	go follow(followCtx, s.hubURL, s.token, cfg.Load.probe(), lat, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	hubBase := du(s.hubDir)

	broker := s.edgeMQTT
	if cfg.Broker != "" {
		broker = cfg.Broker
	}
	l := newLoad(cfg.Load, broker, s.root)
	// Counters before the load: processes that ran before (a running
	// edge and hub) have counted other data.
	before, err := s.snap(ctx, l)
	if err != nil {
		return nil, err
	}
	if err := l.connect(ctx); err != nil {
		return nil, err
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	loadDone := make(chan error, 1)
	go func() { loadDone <- l.run(loadCtx) }()

	res := &Result{Scenario: cfg.Scenario, Load: cfg.Load, SyncInterval: cfg.SyncInterval.String(), Broker: cfg.Broker}
	if err := wait(ctx, cfg.Warmup); err != nil {
		return nil, err
	}
	var w sample
	var perPoint float64
	if cfg.Max {
		w, perPoint, err = s.search(ctx, l, res, lat)
	} else {
		lat.reset()
		l.ackLat.reset()
		w, perPoint, err = s.window(ctx, l, cfg.Duration)
	}
	if err != nil {
		return nil, err
	}
	if !cfg.Max {
		res.Latency, res.Ack = lat.summary(), l.ackLat.summary()
	}
	stopLoad()
	if err := <-loadDone; err != nil {
		return nil, err
	}
	if err := s.drain(ctx, l, before); err != nil {
		return nil, err
	}
	stopFollow()

	tpm := float64(cfg.Load.Tags) / float64(cfg.Load.Topics()) // points per message
	res.Window = w.secs
	in := "edge listener"
	if cfg.Broker != "" {
		// The input counts points, not messages.
		in, w.received = "edge input (from "+cfg.Broker+")", w.inputPoints/tpm
	}
	res.Stages = []Stage{
		{Name: "devices (sent)", Messages: w.sent, Points: w.sent * tpm},
		{Name: in, Messages: w.received, Points: w.received * tpm},
		{Name: "edge pipeline → outbox", Points: w.accepted},
		{Name: "uplink (acknowledged by hub)", Points: w.fwd},
		{Name: "hub storage", Points: w.hub},
	}
	perCPU := func(cpu float64) float64 {
		if cpu <= 0 {
			return 0
		}
		return w.received / cpu
	}
	res.Processes = []Process{
		{Name: "edge", CPU: w.edgeCPU, MessagesPerCPUSecond: perCPU(w.edgeCPU), PeakRSS: max(peakRSS(s.edge.pid()), s.peakEdge), RSS: int64(w.edgeRSS)},
		{Name: "hub", CPU: w.hubCPU, MessagesPerCPUSecond: perCPU(w.hubCPU), PeakRSS: max(peakRSS(s.hub.pid()), s.peakHub), RSS: int64(w.hubRSS)},
		{Name: "load generator", CPU: w.selfCPU, MessagesPerCPUSecond: perCPU(w.selfCPU), PeakRSS: peakRSS(os.Getpid())},
	}
	if err := s.count(ctx, l, before, res); err != nil {
		return nil, err
	}
	if len(cfg.Services) > 0 {
		if res.Services, err = serviceCounts(ctx, s.edgeStatus, cfg.Services); err != nil {
			return nil, err
		}
	}
	res.Disk.Edge = perPoint
	if res.Counts.Stored > 0 && s.hubDir != "" {
		res.Disk.Hub = float64(du(s.hubDir)-hubBase) / float64(res.Counts.Stored)
	}
	return res, nil
}

// search raises the rate step by step (doubling, then halving the gap
// twice) and keeps the highest one the whole flow sustained (see ok).
func (s *stack) search(ctx context.Context, l *load, res *Result, lat *latencies) (sample, float64, error) {
	var best sample
	var bestPer float64
	var bestLat, bestAck Latency
	try := func(hz float64) (bool, error) {
		l.setRate(hz)
		// Let the new rate settle before looking.
		if err := wait(ctx, s.cfg.Warmup); err != nil {
			return false, err
		}
		lat.reset()
		l.ackLat.reset()
		w, per, err := s.window(ctx, l, s.cfg.Duration)
		if err != nil {
			return false, err
		}
		offered := hz * float64(l.cfg.Devices*l.cfg.Topics())
		tpm := float64(l.cfg.Tags) / float64(l.cfg.Topics())
		// Sustained: the devices sent what was offered, the hub stored at
		// that rate, and the edge's backlog neither grew nor held more than
		// a second's worth at the end (a step after a failed one starts
		// with the failed one's backlog).
		ok := w.sent >= 0.97*offered && w.hub >= 0.9*offered*tpm && w.backlog < offered*tpm && w.pending < offered*tpm
		res.Steps = append(res.Steps, Step{Offered: offered, Sent: w.sent, Stored: w.hub, Backlog: w.backlog, EdgeCPU: w.edgeCPU, Latency: lat.summary(), Sustains: ok})
		s.cfg.Log.Info("bench step", "offered", offered, "sent", w.sent, "stored_points", w.hub, "backlog", w.backlog, "sustained", ok)
		if ok {
			best, bestPer, bestLat, bestAck = w, per, lat.summary(), l.ackLat.summary()
			res.Load.Rate = hz
		}
		return ok, nil
	}
	lo, hi := 0.0, 0.0
	for hz := l.cfg.Rate; hi == 0; hz *= 2 {
		ok, err := try(hz)
		if err != nil {
			return sample{}, 0, err
		}
		if ok {
			lo = hz
		} else {
			hi = hz
		}
		if hz > 1e6 {
			break
		}
	}
	for range 2 {
		if lo == 0 || hi == 0 {
			break
		}
		mid := (lo + hi) / 2
		ok, err := try(mid)
		if err != nil {
			return sample{}, 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return sample{}, 0, fmt.Errorf("max: not even %g messages/s per topic was sustained", l.cfg.Rate)
	}
	// Settle at the best rate so that the drain and counts are about it.
	l.setRate(lo)
	res.Latency, res.Ack = bestLat, bestAck
	return best, bestPer, nil
}

// drain waits until the edge has forwarded every point it accepted and
// the hub stored them (at most two minutes); through a broker, also until
// the input has read what the broker still held.
func (s *stack) drain(ctx context.Context, l *load, before snapshot) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	lastIn, lastChange := -1.0, time.Now()
	for {
		m, err := s.snap(ctx, l)
		if err != nil {
			return err
		}
		d := func(m0, m1 metrics, name string) float64 { return m1[name] - m0[name] }
		acc := d(before.edge, m.edge, "molen_edge_points_accepted_total")
		if s.cfg.Broker != "" {
			// What the broker still holds for the input arrives after the
			// load: wait until every point published arrived or none did
			// for 5 s (the broker dropped the rest).
			if in := d(before.edge, m.edge, "molen_edge_input_points_total"); in != lastIn {
				lastIn, lastChange = in, time.Now()
			}
			if lastIn < float64(l.points.Load()) && time.Since(lastChange) < 5*time.Second {
				acc = math.Inf(1) // not yet
			}
		}
		if m.edge["molen_edge_outbox_pending_points"] == 0 && d(before.edge, m.edge, "molen_edge_forwarded_points_total") >= acc &&
			d(before.hub, m.hub, "molen_hub_points_stored_total") >= acc {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("the edge did not forward everything within two minutes of the load's end")
		case <-t.C:
		}
	}
}

// count fills the run's totals.
func (s *stack) count(ctx context.Context, l *load, before snapshot, res *Result) error {
	m, err := s.snap(ctx, l)
	if err != nil {
		return err
	}
	e, h := metrics{}, metrics{}
	for k, v := range m.edge {
		e[k] = v - before.edge[k]
	}
	for k, v := range m.hub {
		h[k] = v - before.hub[k]
	}
	c := &res.Counts
	c.Published, c.Acked = l.sent.Load(), l.acked.Load()
	c.PublishedPoints = l.points.Load()
	c.Received = int64(e["molen_edge_messages_received_total"])
	if s.cfg.Broker != "" {
		// Points per message; the births' points came in no data message.
		c.Received = int64((e["molen_edge_input_points_total"] - float64(l.births.Load())) * float64(s.cfg.Load.Topics()) / float64(s.cfg.Load.Tags))
		c.Rejected = int64(e["molen_edge_input_rejected_total"])
		c.InputDropped = int64(e["molen_edge_input_dropped_total"])
	}
	c.Accepted = int64(e["molen_edge_points_accepted_total"])
	c.Rejected += int64(e["molen_edge_messages_rejected_total"])
	c.Refused = int64(e["molen_edge_messages_refused_total"])
	c.Dropped = int64(e["molen_edge_dropped_points_total"])
	c.Forwarded = int64(e["molen_edge_forwarded_points_total"])
	c.Stored = int64(h["molen_hub_points_stored_total"])
	c.Lost = c.PublishedPoints - c.Stored
	return nil
}
