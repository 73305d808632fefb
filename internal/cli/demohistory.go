//go:build !edgeonly

package cli

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/factory"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/sim"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// The demo's history: on a first start, the past days of the simulated
// factory, run through the demo pipeline and stored in the hub before the
// live data.
const (
	// DefaultHistoryDays and MaxHistoryDays bound molen demo --history.
	DefaultHistoryDays = 7
	MaxHistoryDays     = 30
	// historyStep is the resolution of the history: one sample of every
	// machine per 10 s of event time. The model itself runs at one tick
	// per simulated second in between, so the past runs at rate 1
	// (simulated time is wall time).
	historyStep = 10 * time.Second
	// historyStream is the stream the history is stored under, apart from
	// the edge's live streams.
	historyStream = "demo-history"
	// historyRecord is how much event time one stored record holds.
	historyRecord = time.Hour
)

// HistoryStats describe a back-fill.
type HistoryStats struct {
	From, To time.Time // the back-filled event time
	Points   int       // points stored
	Events   int       // events stored (versions of one event count once each)
	Downtime int       // downtime events in the history
	Reasons  int       // of them, those given a reason
	Acked    int       // alarms acknowledged (all but the last shift's)
	Took     time.Duration
}

// backfillHistory runs days of the simulated factory of seed up to end
// through the demo pipeline at rate 1 and stores the results in st for org
// as edge's stream historyStream; then it gives about two thirds of the
// downtimes a reason, assigned by reasonBy (a user ID, as the API stores
// a person's reason). It is deterministic for a
// given seed, days and end.
func backfillHistory(ctx context.Context, st store.Store, org, edge string, seed int64, days int, end time.Time, reasonBy string) (HistoryStats, error) {
	began := time.Now()
	def, err := pipeline.Parse([]byte(demoPipeline(1)))
	if err != nil {
		return HistoryStats{}, fmt.Errorf("demo pipeline: %w", err)
	}
	r, err := pipeline.NewRunner(def, pipeline.Options{})
	if err != nil {
		return HistoryStats{}, err
	}
	end = end.Truncate(historyStep)
	stats := HistoryStats{From: end.Add(-time.Duration(days) * 24 * time.Hour), To: end}
	src := store.Source{Edge: edge, Stream: historyStream}
	f := sim.NewDemoFactory(seed)
	perStep := int(historyStep / (time.Duration(sim.TickSeconds * float64(time.Second))))
	var (
		seq  uint64
		rec  store.Record
		in   []uns.Point
		out  []uns.Point
		evs  []uns.Event
		next = stats.From.Add(historyRecord)
	)
	flush := func() error {
		if len(rec.Points)+len(rec.Events) == 0 {
			return nil
		}
		seq++
		rec.Seq = seq
		if _, err := st.Ingest(ctx, org, src, []store.Record{rec}); err != nil {
			return fmt.Errorf("store demo history: %w", err)
		}
		stats.Points += len(rec.Points)
		stats.Events += len(rec.Events)
		rec = store.Record{}
		return ctx.Err()
	}
	for t := stats.From; t.Before(end); t = t.Add(historyStep) {
		ns := t.UnixNano()
		out = r.Tick(ns, out[:0])
		f.Advance(perStep - 1)
		in = in[:0]
		for _, m := range f.Tick(t) {
			if in, err = uns.Decode(in, m.Topic, m.Payload, ns); err != nil {
				return stats, fmt.Errorf("demo history %s: %w", m.Topic, err)
			}
		}
		out = append(out, r.Process(in)...)
		evs = r.DrainEvents(evs[:0])
		rec.Points = append(rec.Points, out...)
		rec.Events = append(rec.Events, evs...)
		if !t.Before(next) {
			if err := flush(); err != nil {
				return stats, err
			}
			next = next.Add(historyRecord)
		}
	}
	// Close every window and state interval at the last sample, so that
	// the edge's live intervals begin where the history ends.
	rec.Points = append(rec.Points, r.Finish(out[:0])...)
	rec.Events = append(rec.Events, r.DrainEvents(evs[:0])...)
	if err := flush(); err != nil {
		return stats, err
	}
	if err := explainDowntimes(ctx, st, org, &stats, reasonBy); err != nil {
		return stats, err
	}
	stats.Took = time.Since(began)
	return stats, nil
}

// historyReasons are the reasons a downtime of the history gets, by the
// machine state it began with, a code appearing as often as it is likely.
var historyReasons = map[string][]string{
	"down": {"breakdown_mechanical", "breakdown_mechanical", "breakdown_mechanical", "breakdown_electrical",
		"breakdown_electrical", "material_shortage", "no_operator", "other"},
	"setup": {"changeover", "changeover", "changeover", "changeover", "cleaning", "quality_check", "planned_maintenance"},
	"idle":  {"waiting_upstream", "waiting_upstream", "waiting_upstream", "material_shortage", "material_shortage", "no_operator", "quality_check"},
}

// explainDowntimes gives two of every three closed downtimes of the
// history a reason, chosen by a hash of the event, so the same history
// gets the same reasons; the third is left for an operator.
func explainDowntimes(ctx context.Context, st store.Store, org string, stats *HistoryStats, by string) error {
	evs, err := st.Events(ctx, org, store.EventQuery{AssetPrefix: sim.DefaultSite, Kind: "downtime",
		From: stats.From.UnixNano(), To: stats.To.UnixNano()})
	if err != nil {
		return fmt.Errorf("demo history downtimes: %w", err)
	}
	for _, e := range evs {
		if e.End == 0 || e.Start < stats.From.UnixNano() {
			continue
		}
		stats.Downtime++
		h := fnv.New64a()
		fmt.Fprintf(h, "%s %d", e.Asset, e.Start)
		n := h.Sum64()
		if n%3 == 0 {
			continue
		}
		codes := historyReasons[e.Attrs["state"]]
		if codes == nil {
			codes = historyReasons["down"]
		}
		set := map[string]string{"reason": codes[(n/3)%uint64(len(codes))], "reason_by": by}
		if _, err := st.SetEventAttrs(ctx, org, e.Asset, e.Kind, e.Start, set); err != nil {
			return fmt.Errorf("demo history reason: %w", err)
		}
		stats.Reasons++
	}
	return nil
}

// historyOpenAlarms is how far back the history's alarms are left open:
// one shift, as if the earlier ones were seen at each shift handover.
const historyOpenAlarms = 8 * time.Hour

// ackHistoryAlarms acknowledges the history's alarms and anomalies that
// started before before, by (a user ID), each with its audit entry, so the
// demo opens with the last shift's alarms to look at rather than a week's.
func ackHistoryAlarms(ctx context.Context, f *factory.Service, st store.Store, org string, stats *HistoryStats, by string, before time.Time) error {
	for _, kind := range factory.AlarmKinds {
		evs, err := st.Events(ctx, org, store.EventQuery{AssetPrefix: sim.DefaultSite, Kind: kind,
			From: stats.From.UnixNano(), To: before.UnixNano()})
		if err != nil {
			return fmt.Errorf("demo history alarms: %w", err)
		}
		for _, e := range evs {
			if e.Start < stats.From.UnixNano() || e.Start >= before.UnixNano() {
				continue
			}
			start := time.Unix(0, e.Start).UTC().Format(time.RFC3339Nano)
			ent := audit.Entry{Org: org, Actor: by, Action: "alarm.acked", Target: e.Asset,
				Detail: map[string]string{"kind": e.Kind, "start": start}}
			n := factory.Note{At: time.Now(), Actor: by, Ack: true, Text: "Seen at shift handover"}
			if err := f.AddNote(ctx, org, e.Asset, e.Kind, e.Start, n, ent); err != nil && !errors.Is(err, meta.ErrExists) {
				return fmt.Errorf("demo history alarm: %w", err)
			}
			stats.Acked++
		}
	}
	return nil
}

// runHistory back-fills in the background and logs the outcome.
func runHistory(ctx context.Context, log *slog.Logger, backfill func(context.Context) (HistoryStats, error)) (HistoryStats, error) {
	s, err := backfill(ctx)
	switch {
	case errors.Is(err, context.Canceled):
		log.Info("demo history stopped before it was complete: what was stored stays, the rest is not back-filled later")
		return s, err
	case err != nil:
		log.Warn("demo history", "err", err)
		return s, err
	}
	log.Info("demo history back-filled", "from", s.From.Format(time.RFC3339), "to", s.To.Format(time.RFC3339),
		"points", s.Points, "events", s.Events, "downtimes", s.Downtime, "with_reason", s.Reasons, "alarms_acked", s.Acked, "took", s.Took.Round(time.Millisecond))
	return s, nil
}

// historyHelp is the help of molen demo --history.
var historyHelp = fmt.Sprintf("days of past data a first start back-fills in the background (0 none, at most %d; one sample per machine every %s)",
	MaxHistoryDays, historyStep)

// checkHistory checks a --history value.
func checkHistory(days int) error {
	if days < 0 || days > MaxHistoryDays {
		return fmt.Errorf("--history %d: want 0 to %d days", days, MaxHistoryDays)
	}
	return nil
}

// history is a back-fill running in the background.
type history struct {
	cancel context.CancelFunc
	done   chan struct{}
	stats  HistoryStats
	err    error
}

// startHistory starts back-filling cfg.History days up to now for the demo
// edge edgeID, unless cfg.History is 0 (then it returns nil). The past
// downtimes are explained by the demo's engineer, stored by user ID as a
// reason given through the API is; the demo's people must exist.
func startHistory(ctx context.Context, h *hub.Hub, edgeID string, cfg DemoConfig, log *slog.Logger) (*history, error) {
	if cfg.History == 0 {
		return nil, nil
	}
	by, err := h.Auth().UserByEmail(ctx, demoEngineer)
	if err != nil {
		return nil, fmt.Errorf("demo history: who explains the downtimes: %w", err)
	}
	end := time.Now()
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	x := &history{cancel: cancel, done: make(chan struct{})}
	log.Info("back-filling the demo's history in the background", "days", cfg.History, "resolution", historyStep.String())
	go func() {
		defer close(x.done)
		x.stats, x.err = runHistory(ctx, log, func(ctx context.Context) (HistoryStats, error) {
			s, err := backfillHistory(ctx, h.Store(), hub.DefaultOrg, edgeID, cfg.Seed, cfg.History, end, by.ID)
			if err == nil {
				err = ackHistoryAlarms(ctx, h.Factory(), h.Store(), hub.DefaultOrg, &s, by.ID, end.Add(-historyOpenAlarms))
			}
			return s, err
		})
	}()
	return x, nil
}

// stop cancels the back-fill and waits for it. A nil history is done.
func (x *history) stop() {
	if x == nil {
		return
	}
	x.cancel()
	<-x.done
}

// WaitHistory waits until the back-fill of this start is done and returns
// what it stored; false if this start back-fills nothing (not a first
// start, or --history 0).
func (d *Demo) WaitHistory(ctx context.Context) (HistoryStats, bool, error) {
	if d.history == nil {
		return HistoryStats{}, false, nil
	}
	select {
	case <-d.history.done:
		return d.history.stats, true, d.history.err
	case <-ctx.Done():
		return HistoryStats{}, true, ctx.Err()
	}
}
