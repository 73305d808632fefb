package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/store"
)

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
func (s *Server) getRetention(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ret, err := s.Store.Retention(r.Context(), p.Org)
	def := errors.Is(err, store.ErrNotFound)
	if def {
		ret, err = s.DefaultRetention, nil
	}
	if err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toRetentionJSON(p.Org, ret, def))
}

// putRetention sets the retention of the caller's organisation. Data older
// than the new periods goes at the hub's next retention run (hourly).
func (s *Server) putRetention(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	const usage = `body must be {"raw": "90d", "minute": "730d", "hour": "forever"}: each period a duration like 90d or 36h, or forever`
	var req struct {
		Raw    *string `json:"raw"`
		Minute *string `json:"minute"`
		Hour   *string `json:"hour"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, s.Log, r, badRequest("%s: %v", usage, err))
		return
	}
	var ret store.Retention
	for _, f := range []struct {
		name string
		in   *string
		out  *time.Duration
	}{{"raw", req.Raw, &ret.Raw}, {"minute", req.Minute, &ret.Minute}, {"hour", req.Hour, &ret.Hour}} {
		if f.in == nil {
			writeError(w, s.Log, r, badRequest("%s: missing; %s", f.name, usage))
			return
		}
		d, err := store.ParsePeriod(*f.in)
		if err != nil {
			writeError(w, s.Log, r, badRequest("%s: %v", f.name, err))
			return
		}
		*f.out = d
	}
	if err := ret.Validate(); err != nil {
		writeError(w, s.Log, r, badRequest("%v", err))
		return
	}
	if err := s.Store.SetRetention(r.Context(), p.Org, ret); err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	s.Log.Info("retention set", "org", p.Org, "by", p.Name,
		"raw", store.FormatPeriod(ret.Raw), "minute", store.FormatPeriod(ret.Minute), "hour", store.FormatPeriod(ret.Hour))
	writeJSON(w, http.StatusOK, toRetentionJSON(p.Org, ret, false))
}

// deleteRetention removes the caller's organisation's own retention: the
// hub's default applies again from its next retention run.
func (s *Server) deleteRetention(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if err := s.Store.ClearRetention(r.Context(), p.Org); err != nil {
		writeError(w, s.Log, r, err)
		return
	}
	s.Log.Info("retention back to the hub's default", "org", p.Org, "by", p.Name)
	writeJSON(w, http.StatusOK, toRetentionJSON(p.Org, s.DefaultRetention, true))
}
