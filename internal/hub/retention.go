package hub

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/molen-io/molen/internal/meta"
)

// retentionEvery is how often the hub applies retention.
const retentionEvery = time.Hour

// retentionLease is how long one run holds the retention lease: longer
// than retentionEvery, so that the holder takes it again at its next run
// and keeps it, while the other hubs sharing the database find it held. A
// holder that stops loses it at most retentionLease after its last run;
// another hub takes over at its next run after that.
const retentionLease = retentionEvery + 10*time.Minute

// retentionLoop runs retention at start and then every retentionEvery,
// until ctx ends. Close cancels it and waits.
func (h *Hub) retentionLoop(ctx context.Context) {
	defer close(h.retentionDone)
	tick := time.NewTicker(retentionEvery)
	defer tick.Stop()
	for {
		if _, err := h.RunRetention(ctx, h.cfg.Now()); err != nil && ctx.Err() == nil {
			h.log.Error("retention failed; it is retried in an hour", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// RunRetention applies retention as of now if this hub holds the
// retention lease, taking or renewing it; it reports whether it ran. Of
// several hubs on one database, one at a time runs it.
func (h *Hub) RunRetention(ctx context.Context, now time.Time) (bool, error) {
	// One run at a time in this process too: the loop's and a caller's
	// would otherwise split the work and its figures between them.
	h.retentionMu.Lock()
	defer h.retentionMu.Unlock()
	held, err := h.lease.Acquire(ctx, now)
	if err != nil || !held {
		return false, err
	}
	start := time.Now()
	err = h.ApplyRetention(ctx, now)
	h.jobs.ran(jobRetention, h.cfg.Now(), time.Since(start), err)
	return true, err
}

// ApplyRetention expires old data of every organisation as of now: by the
// retention the organisation set, else by the config's default (see
// series.Service.Expire). It does not look at the lease.
func (h *Hub) ApplyRetention(ctx context.Context, now time.Time) error {
	orgs, err := h.auth.Orgs(ctx)
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	ids := make([]string, len(orgs))
	for i, o := range orgs {
		ids[i] = o.ID
	}
	return h.series.Expire(ctx, ids, now)
}

// notifyLease is how long the hub that sends notifications (or runs the
// rollouts) holds the job between its renewals (every notifyRenew);
// another hub sharing the database takes over at most this long after
// the holder stops.
const (
	notifyLease = 30 * time.Second
	notifyRenew = 10 * time.Second
)

// jobLease is the lease of a job that one hub at a time runs in a loop
// (notifications, rollouts), as that loop sees it.
type jobLease struct {
	*meta.Lease
	now  func() time.Time
	log  *slog.Logger
	at   time.Time // of the last renewal (used by the loop only)
	held bool
}

// hold reports whether this hub runs the job, renewing its lease every
// notifyRenew of wall-clock time.
func (j *jobLease) hold(ctx context.Context) bool {
	if time.Since(j.at) < notifyRenew {
		return j.held
	}
	held, err := j.Acquire(ctx, j.now())
	if err != nil && ctx.Err() == nil {
		j.log.Error("job lease", "job", j.Name, "err", err)
	}
	j.at, j.held = time.Now(), held
	return held
}
