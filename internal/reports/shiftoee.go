package reports

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/series"
	"github.com/molen-io/molen/internal/uns"
)

// oeeAssets maps each asset under prefix that has oee detail series to the
// detail tags it has.
func (s *Service) oeeAssets(ctx context.Context, org, prefix string) (map[string]map[string]bool, error) {
	infos, err := s.st.Series(ctx, org, prefix, series.MaxLimit+1)
	if err != nil {
		return nil, err
	}
	if len(infos) > series.MaxLimit {
		return nil, api.BadRequest("prefix: more than %d series under %q; the limit is %d: use a longer prefix", series.MaxLimit, prefix, series.MaxLimit)
	}
	assets := map[string]map[string]bool{}
	for _, in := range infos {
		tag, parent := uns.Tag(in.Path), uns.Asset(in.Path)
		if uns.Tag(parent) != "oee" || uns.Asset(parent) == "" {
			continue
		}
		switch tag {
		case oeeRunning, oeePlanned, oeeGood, oeeTotal, oeePerformance:
			asset := uns.Asset(parent)
			if assets[asset] == nil {
				assets[asset] = map[string]bool{}
			}
			assets[asset][tag] = true
		}
	}
	return assets, nil
}

// MachineOEE is the OEE of one machine over a span, as the OEE report
// computes it: nil where the report shows null.
type MachineOEE struct {
	Asset                                   string
	Availability, Performance, Quality, OEE *float64
}

// MachinesOEE computes the OEE of every machine of org under prefix over
// [from, to) (the windows that end in it), the machines with no oee data
// there left out, by asset.
func (s *Service) MachinesOEE(ctx context.Context, org, prefix string, from, to time.Time) ([]MachineOEE, error) {
	assets, err := s.oeeAssets(ctx, org, prefix)
	if err != nil {
		return nil, err
	}
	bounds := []int64{from.UnixNano(), to.UnixNano()}
	var out []MachineOEE
	for _, asset := range slices.Sorted(func(yield func(string) bool) {
		for a := range assets {
			if !yield(a) {
				return
			}
		}
	}) {
		sums := map[int]*oeeSums{}
		if err := s.sumOEE(ctx, org, asset, assets[asset], bounds[0], bounds[1], bounds, sums); err != nil {
			return nil, err
		}
		if sums[0] == nil {
			continue
		}
		m := MachineOEE{Asset: asset}
		m.Availability, m.Performance, m.Quality, m.OEE = sums[0].factors()
		out = append(out, m)
	}
	return out, nil
}

// ParseShifts checks shift start times "HH:MM,HH:MM,…" (increasing,
// local time), as the OEE report's shifts= takes them.
func ParseShifts(shifts string) error {
	_, err := parseShifts(shifts)
	return err
}

// LastShift returns the last shift of the calendar shifts (ParseShifts;
// "" is DefaultShifts) in loc that ended at or before now, and its local
// start time ("06:00").
func LastShift(shifts string, loc *time.Location, now time.Time) (start, end time.Time, name string, err error) {
	if shifts == "" {
		shifts = DefaultShifts
	}
	c := calendar{unit: "shift", loc: loc}
	if c.shifts, err = parseShifts(shifts); err != nil {
		return start, end, "", fmt.Errorf("shifts: %w", err)
	}
	end = c.floor(now) // the start of the shift under way is the end of the last
	start = c.floor(end.Add(-time.Nanosecond))
	return start, end, start.In(loc).Format("15:04"), nil
}
