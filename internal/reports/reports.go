package reports

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // tz= must work on hosts without a zoneinfo database

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/series"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// Report limits.
const (
	// MaxReportCells bounds groups × buckets of one OEE report.
	MaxReportCells = 100_000
	// reportPage is how many points or events a report reads at once.
	reportPage = 10_000
	// DefaultShifts is the shift calendar of bucket=shift without shifts=.
	DefaultShifts = "06:00,14:00,22:00"
)

// calendar cuts time into report buckets: hours, days, ISO weeks (from
// Monday 00:00) or shifts in a time zone. Boundaries are instants, so days,
// weeks and shifts across a daylight saving change are an hour shorter or
// longer, as on the factory's clock.
type calendar struct {
	unit   string // hour, day, week or shift
	loc    *time.Location
	shifts []int // shift starts in minutes after local midnight, increasing
}

// floor returns the start of the bucket holding t.
func (c calendar) floor(t time.Time) time.Time {
	t = t.In(c.loc)
	switch c.unit {
	case "hour":
		return t.Add(-time.Duration(t.Minute())*time.Minute - time.Duration(t.Second())*time.Second - time.Duration(t.Nanosecond()))
	case "day", "week":
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, c.loc)
		if d.After(t) { // midnight moved by a zone change
			d = time.Date(t.Year(), t.Month(), t.Day()-1, 0, 0, 0, 0, c.loc)
		}
		if c.unit == "week" {
			sinceMonday := (int(d.Weekday()) + 6) % 7
			d = time.Date(d.Year(), d.Month(), d.Day()-sinceMonday, 0, 0, 0, 0, c.loc)
		}
		return d
	}
	var best time.Time
	for day := -1; day <= 0; day++ {
		for _, m := range c.shifts {
			b := time.Date(t.Year(), t.Month(), t.Day()+day, 0, m, 0, 0, c.loc)
			if !b.After(t) && b.After(best) {
				best = b
			}
		}
	}
	return best
}

// next returns the start of the bucket after the one starting at b.
func (c calendar) next(b time.Time) time.Time {
	b = b.In(c.loc)
	switch c.unit {
	case "hour":
		return b.Add(time.Hour)
	case "day":
		return time.Date(b.Year(), b.Month(), b.Day()+1, 0, 0, 0, 0, c.loc)
	case "week":
		return time.Date(b.Year(), b.Month(), b.Day()+7, 0, 0, 0, 0, c.loc)
	}
	for day := 0; day <= 1; day++ {
		for _, m := range c.shifts {
			if n := time.Date(b.Year(), b.Month(), b.Day()+day, 0, m, 0, 0, c.loc); n.After(b) {
				return n
			}
		}
	}
	return b.Add(24 * time.Hour) // unreachable: there is a shift start each day
}

// bounds returns the bucket boundaries (unix ns) covering [from, to): the
// first at or before from, the last at or after to.
func (c calendar) bounds(from, to int64) ([]int64, error) {
	b := c.floor(time.Unix(0, from))
	out := []int64{b.UnixNano()}
	for b.UnixNano() < to {
		b = c.next(b)
		out = append(out, b.UnixNano())
		if len(out)-1 > series.MaxBuckets {
			return nil, api.BadRequest("more than %d %s buckets over this range; the limit is %d: use a larger bucket or a shorter range",
				series.MaxBuckets, c.unit, series.MaxBuckets)
		}
	}
	return out, nil
}

// parseShifts reads shift start times "HH:MM,HH:MM,…", increasing.
func parseShifts(s string) ([]int, error) {
	bad := api.BadRequest("shifts=%q: want increasing local start times HH:MM separated by commas, like %s", s, DefaultShifts)
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		if len(part) != 5 || part[2] != ':' {
			return nil, bad
		}
		h, herr := strconv.Atoi(part[:2])
		m, merr := strconv.Atoi(part[3:])
		if herr != nil || merr != nil || !isDigit(part[0]) || !isDigit(part[3]) || h > 23 || m > 59 {
			return nil, bad
		}
		if len(out) > 0 && h*60+m <= out[len(out)-1] {
			return nil, bad
		}
		out = append(out, h*60+m)
	}
	if len(out) > 24 {
		return nil, api.BadRequest("shifts=%q: at most 24 shifts a day", s)
	}
	return out, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseCalendar reads bucket, shifts and tz.
func parseCalendar(q url.Values) (calendar, error) {
	get := q.Get
	c := calendar{unit: get("bucket"), loc: time.UTC}
	switch c.unit {
	case "":
		c.unit = "hour"
	case "hour", "day", "week", "shift":
	default:
		return c, api.BadRequest("bucket=%q: want hour, day, week or shift", c.unit)
	}
	if tz := get("tz"); tz != "" {
		// "Local" would depend on the hub's host; names are IANA zones.
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" || len(tz) > 64 {
			return c, api.BadRequest("tz=%q: want an IANA time zone like Europe/Amsterdam, or UTC", tz)
		}
		c.loc = loc
	}
	shifts := get("shifts")
	if c.unit != "shift" {
		if shifts != "" {
			return c, api.BadRequest("shifts: only with bucket=shift")
		}
		return c, nil
	}
	if shifts == "" {
		shifts = DefaultShifts
	}
	var err error
	c.shifts, err = parseShifts(shifts)
	return c, err
}

// The tags the oee operator emits per asset and window with details: true
// (docs/pipelines.md), as <asset>/oee/<tag>.
const (
	oeeRunning     = "running_s"
	oeePlanned     = "planned_s"
	oeeGood        = "good"
	oeeTotal       = "total"
	oeePerformance = "performance"
)

// oeeSums are the sums of one group and bucket.
type oeeSums struct {
	running, planned, good, total float64
	perfRunning, perfWeighted     float64 // Σrunning and Σ(performance×running) over windows with a performance
}

type oeeBucketJSON struct {
	Start        int64    `json:"start"`
	End          int64    `json:"end"`
	Shift        string   `json:"shift,omitempty"`
	Availability *float64 `json:"availability"`
	Performance  *float64 `json:"performance"`
	Quality      *float64 `json:"quality"`
	OEE          *float64 `json:"oee"`
	Running      float64  `json:"running_s"`
	Planned      float64  `json:"planned_s"`
	Good         float64  `json:"good"`
	Total        float64  `json:"total"`
}

// factors computes OEE from the sums the way the oee operator does per
// window: a factor without a denominator is null; OEE is 0 without running
// time or without parts, null when a factor is missing otherwise.
func (a oeeSums) factors() (avail, perf, qual, oee *float64) {
	ptr := func(f float64) *float64 { return &f }
	if a.planned > 0 {
		avail = ptr(a.running / a.planned)
	}
	if a.perfRunning > 0 {
		perf = ptr(a.perfWeighted / a.perfRunning)
	}
	if a.total > 0 {
		qual = ptr(a.good / a.total)
	}
	switch {
	case avail == nil:
	case a.running == 0 || a.total == 0:
		oee = ptr(0)
	case perf != nil && qual != nil:
		oee = ptr(*avail * *perf * *qual)
	}
	return avail, perf, qual, oee
}

// oeeGroup returns the group of an asset: the asset (machine), its parent
// (line; the asset itself if it has one segment) or its first segment
// (site), for UNS assets site/area/line/machine.
func oeeGroup(asset, by string) string {
	switch by {
	case "line":
		if parent := uns.Asset(asset); parent != "" {
			return parent
		}
	case "site":
		site, _, _ := strings.Cut(asset, "/")
		return site
	}
	return asset
}

func (s *Service) oee(r *http.Request, p api.Principal) (any, error) {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	if err := uns.ValidatePrefix(prefix); err != nil {
		return nil, api.BadRequest("prefix: %v", err)
	}
	by := q.Get("by")
	switch by {
	case "":
		by = "machine"
	case "machine", "line", "site":
	default:
		return nil, api.BadRequest("by=%q: want machine, line or site", by)
	}
	from, to, err := api.Range(q, s.now())
	if err != nil {
		return nil, err
	}
	cal, err := parseCalendar(q)
	if err != nil {
		return nil, err
	}
	bounds, err := cal.bounds(from, to)
	if err != nil {
		return nil, err
	}
	org, prefix, err := api.DataPrefix(r, p, api.DataKPI, prefix)
	if err != nil {
		return nil, err
	}
	assets, err := s.oeeAssets(r.Context(), org, prefix)
	if err != nil {
		return nil, err
	}
	groups := map[string]bool{}
	for a := range assets {
		groups[oeeGroup(a, by)] = true
	}
	if cells := len(groups) * (len(bounds) - 1); cells > MaxReportCells {
		return nil, api.BadRequest("%d groups × %d buckets; the limit is %d: use a longer prefix, a larger by or bucket, or a shorter range",
			len(groups), len(bounds)-1, MaxReportCells)
	}
	// sums[group][bucket index]; only buckets with data exist.
	sums := map[string]map[int]*oeeSums{}
	for asset, tags := range assets {
		g := oeeGroup(asset, by)
		if sums[g] == nil {
			sums[g] = map[int]*oeeSums{}
		}
		if err := s.sumOEE(r.Context(), org, asset, tags, from, to, bounds, sums[g]); err != nil {
			return nil, err
		}
	}
	type groupJSON struct {
		Group   string          `json:"group"`
		Buckets []oeeBucketJSON `json:"buckets"`
	}
	out := []groupJSON{}
	for _, g := range slices.Sorted(func(yield func(string) bool) {
		for g := range sums {
			if len(sums[g]) > 0 && !yield(g) {
				return
			}
		}
	}) {
		gj := groupJSON{Group: g}
		for _, i := range slices.Sorted(func(yield func(int) bool) {
			for i := range sums[g] {
				if !yield(i) {
					return
				}
			}
		}) {
			a := sums[g][i]
			b := oeeBucketJSON{Start: bounds[i] / 1e6, End: bounds[i+1] / 1e6,
				Running: a.running, Planned: a.planned, Good: a.good, Total: a.total}
			b.Availability, b.Performance, b.Quality, b.OEE = a.factors()
			if cal.unit == "shift" {
				b.Shift = time.Unix(0, bounds[i]).In(cal.loc).Format("15:04")
			}
			gj.Buckets = append(gj.Buckets, b)
		}
		out = append(out, gj)
	}
	return map[string]any{
		"by": by, "bucket": cal.unit, "tz": cal.loc.String(), "from": from / 1e6, "to": to / 1e6, "groups": out,
	}, nil
}

// sumOEE adds the oee detail points of asset whose windows end in
// (from, to] to the buckets. The operator stamps a window's points with the
// window's end, so a point at t belongs to the bucket holding t-1ns: the
// window [10:00, 11:00) counts in the 10:00 hour.
func (s *Service) sumOEE(ctx context.Context, org, asset string, tags map[string]bool, from, to int64, bounds []int64, sums map[int]*oeeSums) error {
	bucket := func(ts int64) *oeeSums {
		i := sort.Search(len(bounds), func(i int) bool { return bounds[i] > ts-1 }) - 1
		if sums[i] == nil {
			sums[i] = &oeeSums{}
		}
		return sums[i]
	}
	pager := func(tag string) *pointPager {
		return &pointPager{st: s.st, org: org, series: asset + "/oee/" + tag, from: from + 1, to: to + 1, size: reportPage, done: !tags[tag]}
	}
	for _, tag := range []string{oeePlanned, oeeGood, oeeTotal} {
		pg := pager(tag)
		for {
			pts, err := pg.next(ctx)
			if err != nil {
				return fmt.Errorf("oee of %s: %w", asset, err)
			}
			if len(pts) == 0 {
				break
			}
			for _, pt := range pts {
				f, ok := pt.Value.AsFloat()
				if !ok {
					continue
				}
				switch a := bucket(pt.TS); tag {
				case oeePlanned:
					a.planned += f
				case oeeGood:
					a.good += f
				case oeeTotal:
					a.total += f
				}
			}
		}
	}
	// Running time, and performance weighted by the running time of the
	// same window: both series are in time order, so merge them.
	run, perf := &pointIter{pg: pager(oeeRunning)}, &pointIter{pg: pager(oeePerformance)}
	for {
		rp, ok, err := run.peek(ctx)
		if err != nil {
			return fmt.Errorf("oee of %s: %w", asset, err)
		}
		if !ok {
			return nil
		}
		run.pop()
		rf, ok := rp.Value.AsFloat()
		if !ok {
			continue
		}
		a := bucket(rp.TS)
		a.running += rf
		for {
			pp, ok, err := perf.peek(ctx)
			if err != nil {
				return fmt.Errorf("oee of %s: %w", asset, err)
			}
			if !ok || pp.TS > rp.TS {
				break
			}
			perf.pop()
			if pf, ok := pp.Value.AsFloat(); ok && pp.TS == rp.TS {
				a.perfRunning += rf
				a.perfWeighted += pf * rf
				break
			}
		}
	}
}

// pointIter walks a pointPager point by point.
type pointIter struct {
	pg  *pointPager
	buf []uns.Point
}

func (it *pointIter) peek(ctx context.Context) (uns.Point, bool, error) {
	for len(it.buf) == 0 {
		if it.pg.done {
			return uns.Point{}, false, nil
		}
		var err error
		if it.buf, err = it.pg.next(ctx); err != nil {
			return uns.Point{}, false, err
		}
	}
	return it.buf[0], true, nil
}

func (it *pointIter) pop() { it.buf = it.buf[1:] }

// paretoItem is one bar of a downtime Pareto chart.
type paretoItem struct {
	Key        string  `json:"key"`
	Duration   float64 `json:"duration_s"`
	Count      int     `json:"count"`
	Share      float64 `json:"share"`
	Cumulative float64 `json:"cumulative"`
	ns         int64
}

func (s *Service) pareto(r *http.Request, p api.Principal) (any, error) {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	if err := uns.ValidatePrefix(prefix); err != nil {
		return nil, api.BadRequest("prefix: %v", err)
	}
	by := q.Get("by")
	switch by {
	case "":
		by = "reason"
	case "reason", "asset":
	default:
		return nil, api.BadRequest("by=%q: want reason or asset", by)
	}
	now := s.now()
	from, to, err := api.Range(q, now)
	if err != nil {
		return nil, err
	}
	limit, err := api.Limit("limit", q.Get("limit"), 1000, series.MaxEventsLimit)
	if err != nil {
		return nil, err
	}
	org, prefix, err := api.DataPrefix(r, p, api.DataKPI, prefix)
	if err != nil {
		return nil, err
	}
	// An open downtime lasts until to, or until now if to is later.
	openEnd := min(to, now.UnixNano())
	items := map[string]*paretoItem{}
	var total int64
	pg := &eventPager{st: s.st, org: org, size: reportPage,
		q: store.EventQuery{AssetPrefix: prefix, Kind: "downtime", From: from, To: to}}
	for {
		evs, err := pg.next(r.Context())
		if err != nil {
			return nil, fmt.Errorf("downtime pareto: %w", err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			end := e.End
			if end == 0 {
				end = openEnd
			}
			d := min(end, to) - max(e.Start, from)
			if d <= 0 {
				continue
			}
			key := e.Asset
			if by == "reason" {
				if key = e.Attrs["reason"]; key == "" {
					key = "unknown"
				}
			}
			it := items[key]
			if it == nil {
				it = &paretoItem{Key: key}
				items[key] = it
			}
			it.ns += d
			it.Count++
			total += d
		}
	}
	out := make([]*paretoItem, 0, len(items))
	for _, it := range items {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b *paretoItem) int {
		return cmp.Or(cmp.Compare(b.ns, a.ns), cmp.Compare(b.Count, a.Count), strings.Compare(a.Key, b.Key))
	})
	var cum int64
	for _, it := range out {
		cum += it.ns
		it.Duration = float64(it.ns) / 1e9
		it.Share = float64(it.ns) / float64(total)
		it.Cumulative = float64(cum) / float64(total)
	}
	truncated := len(out) > limit
	if truncated {
		out = out[:limit]
	}
	return map[string]any{
		"by": by, "from": from / 1e6, "to": to / 1e6, "items": out, "total_s": float64(total) / 1e9, "truncated": truncated,
	}, nil
}
