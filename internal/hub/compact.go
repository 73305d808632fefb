package hub

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/store/postgres"
)

// compactEvery is how often a hub on PostgreSQL moves the points older
// than the store's head into blocks (postgres.Store.Compact).
const compactEvery = 5 * time.Minute

// compactLease is how long one compaction run holds its lease: longer
// than compactEvery, so that the holder keeps it from run to run and the
// other hubs sharing the database leave the work to it; one that stops
// loses it at most this long after its last run.
const compactLease = compactEvery + 2*time.Minute

// compactLoop compacts at start and then every compactEvery, until ctx
// ends, on the PostgreSQL backend (the embedded store compacts by
// itself). Close cancels it and waits.
func (h *Hub) compactLoop(ctx context.Context) {
	defer close(h.compactDone)
	if _, ok := h.store.(*postgres.Store); !ok {
		return
	}
	tick := time.NewTicker(compactEvery)
	defer tick.Stop()
	for {
		if _, err := h.RunCompaction(ctx, h.cfg.Now()); err != nil && ctx.Err() == nil {
			h.log.Error("compaction failed; it is retried", "err", err, "in", compactEvery)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// RunCompaction moves the points older than the store's head into blocks
// as of now, if storage is PostgreSQL and this hub holds the compaction
// lease (taking or renewing it); it reports whether it ran. Of several
// hubs on one database, one at a time does it (and the store serialises
// compactions besides, so two that overlap still move each point once).
func (h *Hub) RunCompaction(ctx context.Context, now time.Time) (bool, error) {
	pg, ok := h.store.(*postgres.Store)
	if !ok {
		return false, nil
	}
	held, err := h.compactLease.Acquire(ctx, now)
	if err != nil || !held {
		return false, err
	}
	start := time.Now()
	st, err := pg.Compact(ctx, now)
	h.jobs.ran(jobCompaction, h.cfg.Now(), time.Since(start), err)
	h.compacted.points.Add(float64(st.Points))
	h.compacted.blocks.Add(float64(st.Blocks))
	if err != nil {
		h.compacted.failures.Inc()
	}
	if st.Points > 0 || st.Partitions > 0 {
		h.log.Info("compacted points into blocks", "points", st.Points, "blocks", st.Blocks, "partitions_truncated", st.Partitions)
	}
	return true, err
}

// compactMetrics count what this hub's compactions did (PostgreSQL only).
type compactMetrics struct {
	points, blocks, failures prometheus.Counter
}

func newCompactMetrics(reg prometheus.Registerer) compactMetrics {
	m := compactMetrics{
		points: prometheus.NewCounter(prometheus.CounterOpts{Name: "molen_hub_compacted_points_total",
			Help: "Points this hub moved from rows into compressed blocks (PostgreSQL storage)."}),
		blocks: prometheus.NewCounter(prometheus.CounterOpts{Name: "molen_hub_compacted_blocks_total",
			Help: "Blocks this hub's compactions wrote, new or rewritten with late points (PostgreSQL storage)."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "molen_hub_compaction_failures_total",
			Help: "Compaction runs of this hub that failed; each is retried at the next run (PostgreSQL storage)."}),
	}
	reg.MustRegister(m.points, m.blocks, m.failures)
	return m
}
