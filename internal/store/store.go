package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// Sentinel errors that callers act on.
var (
	// ErrInvalid marks input a store refuses because of what it is, not
	// because storing failed: retrying the same call fails the same way.
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound: the series (or event) named does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a series with the name asked for exists already.
	ErrExists = errors.New("already exists")
	// ErrBusy: the series is being written; the call may be retried.
	ErrBusy = errors.New("busy")
)

// Source identifies one ordered stream of uplink records: an edge and one
// of its streams. Records of a source carry strictly increasing sequence
// numbers.
type Source struct {
	Edge   string
	Stream string
}

// Record is one uplink record: the points an edge committed together under
// one sequence number.
type Record struct {
	Seq    uint64
	Points []uns.Point
	Events []uns.Event // stored (or updated) in the same transaction as the points
}

// EventQuery selects events.
type EventQuery struct {
	AssetPrefix string // "" for all; segment-wise like Series
	Kind        string // "" for all kinds
	From, To    int64  // unix ns: events overlapping [From, To); an open event lasts until now
	Limit       int    // <= 0: no limit
}

// Events stores nothing itself (events arrive with Ingest) and answers
// queries. An event is identified by (org, asset, kind, start) and the
// values of its key attributes (uns.EventKeyAttrs): a later version with
// the same identity replaces End and Attrs (an open event closing), so the
// store holds the latest version of each event. Ingest validates events
// with uns.ValidateEvent and refuses the call with ErrInvalid otherwise.
type Events interface {
	// Events returns the events of org matching q, newest start first (ties
	// by asset, kind).
	Events(ctx context.Context, org string, q EventQuery) ([]uns.Event, error)
	// SetEventAttrs sets attributes of the stored events of org with the
	// given asset, kind and start (whatever their key attributes): each
	// value replaces the event's, an empty one removes the attribute. The
	// key attributes (uns.EventKeyAttrs) cannot be set. It returns the
	// events as stored now, none when no event matched. Once an event has
	// the attribute reason_by (a person assigned its reason), a later
	// version of it from an edge keeps the stored AssignedAttrs.
	SetEventAttrs(ctx context.Context, org, asset, kind string, start int64, attrs map[string]string) ([]uns.Event, error)
}

// AssignedAttrs are the attributes a person assigns to an event (its
// downtime reason), which later versions of the event from an edge keep.
var AssignedAttrs = []string{"reason", "reason_by", "reason_comment"}

// MergeAttrs returns old with set applied as SetEventAttrs applies it. It
// refuses to set a key attribute or an invalid one (see uns.ValidateEvent)
// with an error wrapping ErrInvalid.
func MergeAttrs(old, set map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(old)+len(set))
	for k, v := range old {
		out[k] = v
	}
	for k, v := range set {
		for _, key := range uns.EventKeyAttrs {
			if k == key {
				return nil, fmt.Errorf("%w: attribute %q identifies the event and cannot be set", ErrInvalid, k)
			}
		}
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if err := uns.ValidateEvent(uns.Event{Asset: "x", Kind: "x", Attrs: out}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// SeriesInfo describes one stored series.
type SeriesInfo struct {
	Path  string
	Kind  uns.Kind // kind of the latest value
	First int64    // unix ns of the oldest stored point
	Last  int64    // unix ns of the newest stored point
}

// Agg is a bucket aggregate.
type Agg string

// The aggregates. Avg, Min, Max and Sum use numeric values (bools as 0/1)
// and skip strings; Count counts every point; First and Last return the
// earliest and latest value of any kind (among points with the same
// timestamp, the one ingested first and last respectively, as in Raw).
const (
	Avg   Agg = "avg"
	Min   Agg = "min"
	Max   Agg = "max"
	Sum   Agg = "sum"
	Count Agg = "count"
	First Agg = "first"
	Last  Agg = "last"
)

// ParseAgg checks the name of an aggregate.
func ParseAgg(s string) (Agg, error) {
	switch a := Agg(s); a {
	case Avg, Min, Max, Sum, Count, First, Last:
		return a, nil
	}
	return "", fmt.Errorf("unknown aggregate %q: want avg, min, max, sum, count, first or last", s)
}

// Bucket is the aggregate of the points in [Start, Start+step).
type Bucket struct {
	Start int64     // unix ns, a multiple of the step
	Value uns.Value // the aggregate; Float for avg/min/max/sum, Int for count
	// Count is the number of points the aggregate used: the numeric ones
	// (no strings) for avg, min, max and sum; all of them for count, first
	// and last.
	Count int64
}

// Points stores and queries series. Time ranges are [from, to) in unix ns;
// a limit of 0 or less means no limit.
//
// Storage is append-only: it never merges, replaces or deduplicates points.
// Two points of one series with the same timestamp are two points, whether
// they come from one record or two: Raw returns both, Aggregate counts
// both. Deduplication is the watermark's job alone (see Ingest), so a
// duplicate that gets past it, or one a device sent twice, stays visible.
type Points interface {
	// Ingest stores, in one transaction, the records of src that are newer
	// than its watermark and advances the watermark to the last record's
	// Seq. Records at or below the watermark are duplicates of records
	// already stored and are skipped. It returns how many records it stored.
	// recs must be in increasing Seq order. Gaps are allowed (an edge may
	// have dropped records by policy).
	//
	// Ingest checks the whole call before it stores anything. If org or
	// src.Edge is empty, the records are not in strictly increasing Seq
	// order, or any point has an invalid path (see uns.ValidatePath), a
	// negative timestamp, no kind, a non-finite float or an unknown quality,
	// it stores nothing of the call, not even its valid records, and returns
	// an error wrapping ErrInvalid. Other errors mean storing failed; the
	// call may be retried.
	Ingest(ctx context.Context, org string, src Source, recs []Record) (stored int, err error)
	// Watermark returns the highest Seq stored for src, 0 if none.
	Watermark(ctx context.Context, src Source) (uint64, error)

	// Series lists the series of org at or under prefix ("" for all), by
	// path, at most limit of them.
	Series(ctx context.Context, org, prefix string, limit int) ([]SeriesInfo, error)
	// Latest returns the newest point of each series at or under prefix,
	// by path, at most limit of them. The newest point has the highest
	// timestamp; among points with that timestamp, it is the one ingested
	// last.
	Latest(ctx context.Context, org, prefix string, limit int) ([]uns.Point, error)
	// Raw returns the points of one series in [from, to) in time order,
	// points with the same timestamp in the order they were ingested, at
	// most limit of them (the oldest). An unknown series (or one of another
	// org) gives an empty result, not an error.
	Raw(ctx context.Context, org, series string, from, to int64, limit int) ([]uns.Point, error)
	// Aggregate returns the non-empty buckets of width step (ns, > 0) of one
	// series in [from, to), in time order. Buckets start at multiples of
	// step, not at from. A bucket is non-empty when the aggregate used at
	// least one of its points (Bucket.Count > 0), so a bucket holding only
	// strings is left out of avg, min, max and sum. A step <= 0 or an
	// unknown agg gives an error wrapping ErrInvalid.
	Aggregate(ctx context.Context, org, series string, from, to, step int64, agg Agg) ([]Bucket, error)

	// Expire removes old data of org, and of no other organisation: the
	// points with a timestamp before now-r.Raw, and the minute (hour)
	// rollup buckets that end at or before now-r.Minute (now-r.Hour): the
	// bucket holding the cutoff stays (see RollupCutoff), as its later
	// points may still be stored raw. A zero period removes nothing of its
	// kind. The
	// latest point of every series stays (Latest still returns it, even
	// when Raw no longer does), and Series' First becomes the oldest point
	// left, or the latest point's timestamp when none is. A negative period
	// gives an error wrapping ErrInvalid.
	Expire(ctx context.Context, org string, r Retention, now time.Time) (ExpireStats, error)
}

// Retention says how long an organisation's data is kept: raw points for
// Raw, minute rollups for Minute, hour rollups for Hour. Zero keeps that
// kind forever.
type Retention struct {
	Raw, Minute, Hour time.Duration
}

// Validate checks r: no period is negative, and each rollup is kept at
// least as long as the data it summarises (Raw <= Minute <= Hour, zero
// being forever), so an aggregate never misses data that is still stored
// (see Points.Aggregate: whole minutes and hours come from rollups).
// Errors wrap ErrInvalid.
func (r Retention) Validate() error {
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"raw", r.Raw}, {"minute", r.Minute}, {"hour", r.Hour}} {
		if p.d < 0 {
			return fmt.Errorf("%w: %s: period %v is negative", ErrInvalid, p.name, p.d)
		}
	}
	// longer reports whether a keeps at least as long as b.
	longer := func(a, b time.Duration) bool { return a == 0 || b != 0 && a >= b }
	if !longer(r.Minute, r.Raw) {
		return fmt.Errorf("%w: minute: %s is shorter than raw (%s): rollups must be kept at least as long as raw points",
			ErrInvalid, FormatPeriod(r.Minute), FormatPeriod(r.Raw))
	}
	if !longer(r.Hour, r.Minute) {
		return fmt.Errorf("%w: hour: %s is shorter than minute (%s): hour rollups must be kept at least as long as minute rollups",
			ErrInvalid, FormatPeriod(r.Hour), FormatPeriod(r.Minute))
	}
	return nil
}

// Day is 24 hours, the unit of ParsePeriod's d suffix.
const Day = 24 * time.Hour

// ParsePeriod reads a retention period: a Go duration ("36h"), a number
// of days ("90d", "1.5d"), or "0" or "forever" for no limit (0).
func ParsePeriod(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "0", "forever":
		return 0, nil
	case "":
		return 0, errors.New("empty period: want a duration like 90d or 36h, or forever")
	}
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		f, err := strconv.ParseFloat(n, 64)
		if err != nil || math.IsNaN(f) || math.Abs(f) > float64(math.MaxInt64/int64(Day)) {
			return 0, fmt.Errorf("period %q: want a duration like 90d or 36h, or forever", s)
		}
		d = time.Duration(f * float64(Day))
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("period %q: want a duration like 90d or 36h, or forever", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("period %q is negative", s)
	}
	return d, nil
}

// FormatPeriod writes a period as ParsePeriod reads it: "forever" for 0,
// days when whole ("90d"), else a Go duration.
func FormatPeriod(d time.Duration) string {
	switch {
	case d == 0:
		return "forever"
	case d%Day == 0:
		return strconv.FormatInt(int64(d/Day), 10) + "d"
	}
	return d.String()
}

// ExpireStats counts what Expire removed.
type ExpireStats struct {
	Points int64 // raw points
	// Minutes and Hours count rollup buckets; a backend that stores a
	// bucket in pieces (the embedded one, until it merges them) counts each.
	Minutes, Hours int64
}

// SeriesAdmin changes which series an organisation has. Each call is one
// transaction; paths are validated (uns.ValidatePath) and an invalid one
// gives an error wrapping ErrInvalid.
type SeriesAdmin interface {
	// DeleteSeries removes a series of org and all its data: points,
	// rollups, its latest value. ErrNotFound if it does not exist.
	DeleteSeries(ctx context.Context, org, path string) error
	// RenameSeries gives a series of org another path, with all its data.
	// ErrNotFound if from does not exist, ErrExists if to does.
	RenameSeries(ctx context.Context, org, from, to string) error
	// MergeSeries moves the points of from into into, combines their
	// rollups and latest values, and removes from. ErrNotFound if either
	// does not exist; ErrInvalid if they are one.
	MergeSeries(ctx context.Context, org, from, into string) error
}

// CheckAdmin validates the paths of a SeriesAdmin call.
func CheckAdmin(paths ...string) error {
	for _, p := range paths {
		if err := uns.ValidatePath(p); err != nil {
			return fmt.Errorf("%w: series %q: %v", ErrInvalid, p, err)
		}
	}
	if len(paths) == 2 && paths[0] == paths[1] {
		return fmt.Errorf("%w: series %q: a series and itself", ErrInvalid, paths[0])
	}
	return nil
}

// Store is a whole backend.
type Store interface {
	Points
	Events
	SeriesAdmin
	Close() error
}
