package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/molen-io/molen/internal/store"
)

// retentionEvery is how often the hub applies retention.
const retentionEvery = time.Hour

// retentionLoop applies retention at start and then every retentionEvery,
// until ctx ends. Close cancels it and waits.
func (h *Hub) retentionLoop(ctx context.Context) {
	defer close(h.retentionDone)
	tick := time.NewTicker(retentionEvery)
	defer tick.Stop()
	for {
		if err := h.ApplyRetention(ctx, time.Now()); err != nil && ctx.Err() == nil {
			h.log.Error("retention failed; it is retried in an hour", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ApplyRetention expires old data of every organisation as of now: by the
// retention the organisation set, else by the config's default. It logs
// what it removed, at info, and goes on with the other organisations
// when one fails.
func (h *Hub) ApplyRetention(ctx context.Context, now time.Time) error {
	orgs, err := h.store.Orgs(ctx)
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	def := h.cfg.Retention()
	var errs []error
	for _, o := range orgs {
		r, err := h.store.Retention(ctx, o.ID)
		if errors.Is(err, store.ErrNotFound) {
			r, err = def, nil
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("retention of %s: %w", o.ID, err))
			continue
		}
		start := time.Now()
		st, err := h.store.Expire(ctx, o.ID, r, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("retention of %s: %w", o.ID, err))
			continue
		}
		if st != (store.ExpireStats{}) {
			h.log.Info("retention removed old data", "org", o.ID,
				"raw", store.FormatPeriod(r.Raw), "minute", store.FormatPeriod(r.Minute), "hour", store.FormatPeriod(r.Hour),
				"points", st.Points, "minute_buckets", st.Minutes, "hour_buckets", st.Hours, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	return errors.Join(errs...)
}
