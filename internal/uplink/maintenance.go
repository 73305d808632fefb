package uplink

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Maintenance is the maintenance setting of a manifest: weekly windows
// in the edge's local time, outside which the edge does not apply a new
// manifest (docs/fleet.md#maintenance-windows). Empty: always.
type Maintenance []Window

// Window is one weekly window: the days it starts on, and its start and
// end as minutes after midnight. An end not after the start ends the next
// day (22:00-02:00).
type Window struct {
	Days       [7]bool // by time.Weekday
	Start, End int
	text       string
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseMaintenance parses the setting's content: a JSON list of windows,
// each "<days> HH:MM-HH:MM" where days is a day (mon … sun), a range of
// days (mon-fri) or daily, such as ["sat 02:00-06:00", "daily 12:00-12:30"].
func ParseMaintenance(content []byte) (Maintenance, error) {
	var list []string
	if err := json.Unmarshal(content, &list); err != nil {
		return nil, fmt.Errorf(`want a list of windows such as ["sat 02:00-06:00", "mon-fri 12:00-12:30"]`)
	}
	if len(list) > 32 {
		return nil, fmt.Errorf("at most 32 windows")
	}
	var m Maintenance
	for i, s := range list {
		w, err := parseWindow(s)
		if err != nil {
			return nil, fmt.Errorf("[%d] %q: %w", i, s, err)
		}
		m = append(m, w)
	}
	return m, nil
}

func parseWindow(s string) (Window, error) {
	w := Window{text: s}
	days, span, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return w, fmt.Errorf("want <days> HH:MM-HH:MM")
	}
	switch from, to, isRange := strings.Cut(strings.ToLower(days), "-"); {
	case days == "daily":
		w.Days = [7]bool{true, true, true, true, true, true, true}
	case isRange:
		a, b := slices.Index(dayNames, from), slices.Index(dayNames, to)
		if a < 0 || b < 0 {
			return w, fmt.Errorf("days: want mon … sun, a range such as mon-fri, or daily")
		}
		for d := a; ; d = (d + 1) % 7 {
			w.Days[d] = true
			if d == b {
				break
			}
		}
	default:
		d := slices.Index(dayNames, from)
		if d < 0 {
			return w, fmt.Errorf("days: want mon … sun, a range such as mon-fri, or daily")
		}
		w.Days[d] = true
	}
	start, end, ok := strings.Cut(strings.TrimSpace(span), "-")
	if !ok {
		return w, fmt.Errorf("want HH:MM-HH:MM")
	}
	var err error
	if w.Start, err = clockMinutes(start); err == nil {
		w.End, err = clockMinutes(end)
	}
	return w, err
}

func clockMinutes(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		if s == "24:00" {
			return 24 * 60, nil
		}
		return 0, fmt.Errorf("%q: want HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Open reports whether t (in the edge's local time) lies within a window;
// always true for no windows.
func (m Maintenance) Open(t time.Time) bool {
	if len(m) == 0 {
		return true
	}
	now := t.Hour()*60 + t.Minute()
	today, yesterday := t.Weekday(), (t.Weekday()+6)%7
	for _, w := range m {
		if w.End > w.Start {
			if w.Days[today] && now >= w.Start && now < w.End {
				return true
			}
			continue
		}
		// Across midnight: from Start on the day, until End the next day.
		if w.Days[today] && now >= w.Start || w.Days[yesterday] && now < w.End {
			return true
		}
	}
	return false
}

func (m Maintenance) String() string {
	out := make([]string, len(m))
	for i, w := range m {
		out[i] = w.text
	}
	return strings.Join(out, ", ")
}
