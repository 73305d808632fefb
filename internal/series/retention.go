package series

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/store"
)

// SetRetention stores the retention of org, replacing the one it had; an
// error wrapping store.ErrInvalid if r.Validate fails. The caller names an
// organisation that exists (the API: the caller's own).
func (s *Service) SetRetention(ctx context.Context, org string, r store.Retention) error {
	err := r.Validate()
	if err == nil {
		err = meta.CheckText(org)
	}
	if err == nil {
		_, err = s.db.ExecContext(ctx, `INSERT INTO retention (org, raw, minute, hour) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org) DO UPDATE SET raw = excluded.raw, minute = excluded.minute, hour = excluded.hour`,
			org, int64(r.Raw), int64(r.Minute), int64(r.Hour))
	}
	if err != nil {
		return fmt.Errorf("set retention of %s: %w", org, err)
	}
	return nil
}

// ClearRetention removes the retention stored for org, so the default
// applies again; nothing happens if none is stored.
func (s *Service) ClearRetention(ctx context.Context, org string) error {
	if !meta.Text(org) {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM retention WHERE org = $1`, org); err != nil {
		return fmt.Errorf("clear retention of %s: %w", org, err)
	}
	return nil
}

// Retention returns the retention stored for org, or meta.ErrNotFound
// when none is (the default applies).
func (s *Service) Retention(ctx context.Context, org string) (store.Retention, error) {
	var raw, minute, hour int64
	err := meta.ErrNotFound
	if meta.Text(org) {
		err = meta.Found(s.db.QueryRowContext(ctx, `SELECT raw, minute, hour FROM retention WHERE org = $1`, org).Scan(&raw, &minute, &hour))
	}
	if err != nil {
		return store.Retention{}, fmt.Errorf("retention of %s: %w", org, err)
	}
	return store.Retention{Raw: time.Duration(raw), Minute: time.Duration(minute), Hour: time.Duration(hour)}, nil
}

// Expire expires old data of each organisation in orgs as of now: by the
// retention it set, else by the default. It logs what it removed, at
// info, and goes on with the other organisations when one fails.
func (s *Service) Expire(ctx context.Context, orgs []string, now time.Time) error {
	var errs []error
	for _, org := range orgs {
		r, err := s.Retention(ctx, org)
		if errors.Is(err, meta.ErrNotFound) {
			r, err = s.def, nil
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		start := time.Now()
		st, err := s.st.Expire(ctx, org, r, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("retention of %s: %w", org, err))
			continue
		}
		if st != (store.ExpireStats{}) {
			s.log.Info("retention removed old data", "org", org,
				"raw", store.FormatPeriod(r.Raw), "minute", store.FormatPeriod(r.Minute), "hour", store.FormatPeriod(r.Hour),
				"points", st.Points, "minute_buckets", st.Minutes, "hour_buckets", st.Hours, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	return errors.Join(errs...)
}

// retentionJSON is an organisation's retention on the API: each period as
// a Go duration ("2160h0m0s") or "forever", and in days (null: forever).
type retentionJSON struct {
	Org        string   `json:"org"`
	Default    bool     `json:"default"` // the hub's default: the organisation set none
	Raw        string   `json:"raw"`
	RawDays    *float64 `json:"raw_days"`
	Minute     string   `json:"minute"`
	MinuteDays *float64 `json:"minute_days"`
	Hour       string   `json:"hour"`
	HourDays   *float64 `json:"hour_days"`
}

func periodJSON(d time.Duration) (string, *float64) {
	if d == 0 {
		return "forever", nil
	}
	days := float64(d) / float64(store.Day)
	return d.String(), &days
}

func toRetentionJSON(org string, r store.Retention, def bool) retentionJSON {
	out := retentionJSON{Org: org, Default: def}
	out.Raw, out.RawDays = periodJSON(r.Raw)
	out.Minute, out.MinuteDays = periodJSON(r.Minute)
	out.Hour, out.HourDays = periodJSON(r.Hour)
	return out
}

// getRetention answers the retention that applies to the caller's
// organisation: its own, or the hub's default.
func (s *Service) getRetention(r *http.Request, p api.Principal) (any, error) {
	ret, err := s.Retention(r.Context(), p.Org)
	def := errors.Is(err, meta.ErrNotFound)
	if def {
		ret, err = s.def, nil
	}
	if err != nil {
		return nil, err
	}
	return toRetentionJSON(p.Org, ret, def), nil
}

// putRetention sets the retention of the caller's organisation. Data older
// than the new periods goes at the hub's next retention run (hourly).
func (s *Service) putRetention(r *http.Request, p api.Principal) (any, error) {
	const usage = `body must be {"raw": "90d", "minute": "730d", "hour": "forever"}: each period a duration like 90d or 36h, or forever`
	var req struct {
		Raw    *string `json:"raw"`
		Minute *string `json:"minute"`
		Hour   *string `json:"hour"`
	}
	if err := api.ReadJSON(r, &req, usage); err != nil {
		return nil, err
	}
	var ret store.Retention
	for _, f := range []struct {
		name string
		in   *string
		out  *time.Duration
	}{{"raw", req.Raw, &ret.Raw}, {"minute", req.Minute, &ret.Minute}, {"hour", req.Hour, &ret.Hour}} {
		if f.in == nil {
			return nil, api.BadRequest("%s: missing; %s", f.name, usage)
		}
		d, err := store.ParsePeriod(*f.in)
		if err != nil {
			return nil, api.BadRequest("%s: %v", f.name, err)
		}
		*f.out = d
	}
	if err := ret.Validate(); err != nil {
		return nil, api.BadRequest("%v", err)
	}
	if err := s.SetRetention(r.Context(), p.Org, ret); err != nil {
		return nil, err
	}
	s.log.Info("retention set", "org", p.Org, "by", p.Name,
		"raw", store.FormatPeriod(ret.Raw), "minute", store.FormatPeriod(ret.Minute), "hour", store.FormatPeriod(ret.Hour))
	return toRetentionJSON(p.Org, ret, false), nil
}

// deleteRetention removes the caller's organisation's own retention: the
// hub's default applies again from its next retention run.
func (s *Service) deleteRetention(r *http.Request, p api.Principal) (any, error) {
	if err := s.ClearRetention(r.Context(), p.Org); err != nil {
		return nil, err
	}
	s.log.Info("retention back to the hub's default", "org", p.Org, "by", p.Name)
	return toRetentionJSON(p.Org, s.def, true), nil
}
