package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// openUntil is until_ts of an open event: it overlaps every range after
// its start.
const openUntil = math.MaxInt64

// eventKey is the identity of an event within an org.
type eventKey struct {
	asset, kind   string
	start         int64
	series, limit string // the key attributes (uns.EventKeyAttrs); "" if absent
}

func compareEventKeys(a, b eventKey) int {
	return cmp.Or(cmp.Compare(a.asset, b.asset), cmp.Compare(a.kind, b.kind), cmp.Compare(a.start, b.start),
		cmp.Compare(a.series, b.series), cmp.Compare(a.limit, b.limit))
}

// newEventKey is the identity of a validated event. A trailing '/' of the
// asset (which uns.ValidateEvent allows) is dropped: "m/press/" and
// "m/press" are one asset.
func newEventKey(e uns.Event) eventKey {
	return eventKey{asset: strings.TrimSuffix(e.Asset, "/"), kind: e.Kind, start: e.Start,
		series: e.Attrs[uns.EventKeyAttrs[0]], limit: e.Attrs[uns.EventKeyAttrs[1]]}
}

// eventUntil is the exclusive end of the range an event covers for
// queries: open events never end, and an instant event (End == Start)
// covers its start, so that it is found by a range that holds it.
func eventUntil(start, end int64) int64 {
	switch {
	case end == 0:
		return openUntil
	case end == start:
		return start + 1
	}
	return end
}

// sqlUpsertEvents stores events or replaces End and Attrs of the stored
// versions with the same identity, keeping the store.AssignedAttrs a
// person set. ON CONFLICT DO UPDATE may touch a row
// once per statement, so the caller passes each identity once, in key
// order, which is also the order concurrent writers lock rows in.
var sqlUpsertEvents = sqlText(`INSERT INTO {s}.events AS e (org, asset, kind, start_ts, key_series, key_limit, end_ts, until_ts, attrs)
	SELECT $1, u.asset, u.kind, u.start_ts, u.key_series, u.key_limit, u.end_ts, u.until_ts, u.attrs::jsonb
	FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[])
		AS u(asset, kind, start_ts, key_series, key_limit, end_ts, until_ts, attrs)
	ORDER BY u.asset, u.kind, u.start_ts, u.key_series, u.key_limit
	ON CONFLICT (org, asset, kind, start_ts, key_series, key_limit)
	DO UPDATE SET end_ts = excluded.end_ts, until_ts = excluded.until_ts,
		attrs = CASE WHEN NOT e.attrs ? 'reason_by' THEN excluded.attrs
			ELSE excluded.attrs || jsonb_strip_nulls(jsonb_build_object(
				'reason', e.attrs->'reason', 'reason_by', e.attrs->'reason_by', 'reason_comment', e.attrs->'reason_comment')) END`)

// storeEvents upserts the events of recs inside the Ingest transaction.
// Of several versions of one event in the call, the last one is stored.
func (s *Store) storeEvents(ctx context.Context, tx pgx.Tx, org string, recs []store.Record) error {
	latest := make(map[eventKey]uns.Event)
	for _, r := range recs {
		for _, e := range r.Events {
			latest[newEventKey(e)] = e
		}
	}
	if len(latest) == 0 {
		return nil
	}
	keys := slices.SortedFunc(maps.Keys(latest), compareEventKeys)
	n := len(keys)
	assets, kinds, series, limits, attrs := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	starts, ends, untils := make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
	for _, k := range keys {
		e := latest[k]
		a := "{}"
		if len(e.Attrs) > 0 {
			b, err := json.Marshal(e.Attrs)
			if err != nil {
				return fmt.Errorf("event %s %s@%d: encode attributes: %w", k.asset, k.kind, k.start, err)
			}
			a = string(b)
		}
		assets, kinds, series, limits, attrs = append(assets, k.asset), append(kinds, k.kind), append(series, k.series), append(limits, k.limit), append(attrs, a)
		starts, ends, untils = append(starts, k.start), append(ends, e.End), append(untils, eventUntil(e.Start, e.End))
	}
	if _, err := tx.Exec(ctx, s.sql(sqlUpsertEvents), org, assets, kinds, starts, series, limits, ends, untils, attrs); err != nil {
		return fmt.Errorf("store events: %w", err)
	}
	return nil
}

// sqlEvents selects events overlapping [$2, $3): until_ts > from and
// start_ts < to. The planner picks events_by_until for a recent window or
// the identity index for a narrow prefix, by its statistics.
var sqlEvents = sqlText(`SELECT asset, kind, start_ts, end_ts, attrs FROM {s}.events
	WHERE org = $1 AND until_ts > $2 AND start_ts < $3
		AND ($4 = '' OR kind = $4)
		AND asset >= $5 AND asset < $6
		AND ($5 = '' OR asset = $5 OR substr(asset, length($5) + 1, 1) = '/')
	ORDER BY start_ts DESC, asset, kind, key_series, key_limit
	LIMIT $7`)

// Events implements store.Events.
func (s *Store) Events(ctx context.Context, org string, q store.EventQuery) ([]uns.Event, error) {
	if err := s.checkOpen(); err != nil {
		return nil, fmt.Errorf("events %q: %w", q.AssetPrefix, err)
	}
	if !store.Text(org) || !store.Text(q.AssetPrefix) || !store.Text(q.Kind) || q.From >= q.To {
		return nil, nil
	}
	p, hi := prefixRange(q.AssetPrefix)
	rows, err := s.pool.Query(ctx, s.sql(sqlEvents), org, q.From, q.To, q.Kind, p, hi, limitArg(q.Limit))
	if err != nil {
		return nil, fmt.Errorf("events %q: %w", q.AssetPrefix, err)
	}
	var out []uns.Event
	var e uns.Event
	var attrs []byte
	_, err = pgx.ForEachRow(rows, []any{&e.Asset, &e.Kind, &e.Start, &e.End, &attrs}, func() error {
		ev := uns.Event{Asset: e.Asset, Kind: e.Kind, Start: e.Start, End: e.End}
		if string(attrs) != "{}" {
			if err := json.Unmarshal(attrs, &ev.Attrs); err != nil {
				return fmt.Errorf("%s %s@%d: decode attributes: %w", e.Asset, e.Kind, e.Start, err)
			}
		}
		out = append(out, ev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events %q: %w", q.AssetPrefix, err)
	}
	return out, nil
}

// The statements of SetEventAttrs.
var (
	sqlEventForUpdate = sqlText(`SELECT key_series, key_limit, end_ts, attrs FROM {s}.events
		WHERE org = $1 AND asset = $2 AND kind = $3 AND start_ts = $4 ORDER BY key_series, key_limit FOR UPDATE`)
	sqlSetEventAttrs = sqlText(`UPDATE {s}.events SET attrs = $6::jsonb
		WHERE org = $1 AND asset = $2 AND kind = $3 AND start_ts = $4 AND key_series = $5 AND key_limit = $7`)
)

// SetEventAttrs implements store.Events.
func (s *Store) SetEventAttrs(ctx context.Context, org, asset, kind string, start int64, attrs map[string]string) ([]uns.Event, error) {
	asset = strings.TrimSuffix(asset, "/")
	if !store.Text(org) || !store.Text(asset) || !store.Text(kind) {
		return nil, nil
	}
	var out []uns.Event
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, s.sql(sqlEventForUpdate),
			org, asset, kind, start)
		if err != nil {
			return err
		}
		type row struct {
			series, limit string
			ev            uns.Event
		}
		var found []row
		var r row
		var raw []byte
		_, err = pgx.ForEachRow(rows, []any{&r.series, &r.limit, &r.ev.End, &raw}, func() error {
			found = append(found, row{series: r.series, limit: r.limit, ev: uns.Event{Asset: asset, Kind: kind, Start: start, End: r.ev.End}})
			if string(raw) != "{}" {
				return json.Unmarshal(raw, &found[len(found)-1].ev.Attrs)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, f := range found {
			if f.ev.Attrs, err = store.MergeAttrs(f.ev.Attrs, attrs); err != nil {
				return err
			}
			enc := []byte("{}")
			if len(f.ev.Attrs) > 0 {
				if enc, err = json.Marshal(f.ev.Attrs); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, s.sql(sqlSetEventAttrs),
				org, asset, kind, start, f.series, string(enc), f.limit); err != nil {
				return err
			}
			out = append(out, f.ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set attributes of event %s %s@%d: %w", asset, kind, start, err)
	}
	return out, nil
}
