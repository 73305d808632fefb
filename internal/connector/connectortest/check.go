package connectortest

import (
	"fmt"
	"slices"
	"sort"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"
)

// Redelivery is what an input does with points its sink refused.
type Redelivery uint8

// The redelivery policies.
const (
	// Retry: the input writes exactly the refused points again (same
	// series, timestamps and values) until the sink takes them. Polling
	// inputs (Modbus) do this: the device keeps no history to re-read.
	Retry Redelivery = iota
	// Reread: the input gets the data from the peer again (an
	// unacknowledged MQTT message is redelivered, an OPC UA value is read
	// anew); each refused series is delivered later with a timestamp no
	// older than the refused point's.
	Reread
)

func (r Redelivery) String() string {
	if r == Reread {
		return "reread"
	}
	return "retry"
}

// missing returns the refused points that the accepted points do not make
// up for under policy r, sorted by series and time.
func missing(r Redelivery, refused, accepted []uns.Point) []uns.Point {
	var out []uns.Point
	switch r {
	case Retry:
		have := make(map[uns.Point]int, len(accepted))
		for _, p := range accepted {
			have[p]++
		}
		for _, p := range refused {
			// A point refused twice (retried, refused again) needs
			// delivering once; a delivery counts for every refusal.
			if have[p] == 0 {
				out = append(out, p)
			}
		}
	case Reread:
		latest := make(map[string]int64, len(accepted))
		for _, p := range accepted {
			if ts, ok := latest[p.Series]; !ok || p.TS > ts {
				latest[p.Series] = p.TS
			}
		}
		for _, p := range refused {
			if ts, ok := latest[p.Series]; !ok || ts < p.TS {
				out = append(out, p)
			}
		}
	}
	out = slices.Compact(sortPoints(out))
	return out
}

func sortPoints(pts []uns.Point) []uns.Point {
	sort.SliceStable(pts, func(i, j int) bool {
		if pts[i].Series != pts[j].Series {
			return pts[i].Series < pts[j].Series
		}
		return pts[i].TS < pts[j].TS
	})
	return pts
}

// unseen returns the series of want whose value is not among pts, sorted.
func unseen(want map[string]uns.Value, pts []uns.Point) []string {
	seen := make(map[string]bool, len(want))
	for _, p := range pts {
		if v, ok := want[p.Series]; ok && v == p.Value {
			seen[p.Series] = true
		}
	}
	var out []string
	for s := range want {
		if !seen[s] {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// insane lists what is wrong with a status, whatever the input's state.
func insane(st connector.Status) []string {
	var bad []string
	switch st.State {
	case connector.Connecting, connector.Connected, connector.Disconnected, connector.Stopped:
	default:
		bad = append(bad, fmt.Sprintf("state %q is not one of connecting, connected, disconnected, stopped", st.State))
	}
	if st.Peer == "" {
		bad = append(bad, "peer is empty")
	}
	if st.Connects < 0 || st.Points < 0 || st.Dropped < 0 {
		bad = append(bad, fmt.Sprintf("negative counter: connects %d, points %d, dropped %d", st.Connects, st.Points, st.Dropped))
	}
	if st.State == connector.Connected && st.Connects < 1 {
		bad = append(bad, "connected with connects 0")
	}
	if st.State == connector.Disconnected && st.LastError == "" {
		bad = append(bad, "disconnected without last_error")
	}
	if (st.LastError == "") != st.LastErrorAt.IsZero() {
		bad = append(bad, fmt.Sprintf("last_error %q with last_error_at %v: set both or neither", st.LastError, st.LastErrorAt))
	}
	for reason, n := range st.Rejected {
		if reason == "" || n <= 0 {
			bad = append(bad, fmt.Sprintf("rejected[%q] = %d: want a named reason with a positive count", reason, n))
		}
	}
	sort.Strings(bad)
	return bad
}
