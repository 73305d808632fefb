package opcua_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/opcua"
	"github.com/molen-io/molen/internal/connector/opcua/opcuatest"
	"github.com/molen-io/molen/internal/uns"
)

// plantVars are browsable variables of the test server (see opcuatest: a
// '/' in a name is a folder), and their values.
var plantVars = map[string]float64{
	"Line1/Mill2/Temperature":       20.5,
	"Line1/Mill2/Speed":             1200,
	"Line1/Press 3/Temperature":     21.5,
	"Line1/Oven/Zone1/Temperature":  180,
	"Line1/Oven/Zone2/Temperature":  185,
	"Line1/Oven/Zone2/Heater/Power": 7.5,
	"Line2/Mill1/Temperature":       19,
}

// newPlant is a server holding plantVars, set before any client connects
// (see opcuatest on adding browsable variables).
func newPlant(t *testing.T) *opcuatest.Server {
	t.Helper()
	s, err := opcuatest.NewServer(opcuatest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for name, v := range plantVars {
		s.Set(name, v)
	}
	return s
}

func browseConfig(s *opcuatest.Server, mode string, rules ...opcua.Browse) *opcua.Config {
	cfg := fastConfig(s, mode)
	cfg.Nodes = nil
	cfg.Browse = rules
	return cfg
}

// seriesSeen waits until every series of want has a point and one more
// poll wrote, and returns the series with points and their last values. A
// poll writes every mapped node at once, so a series mapped by mistake
// shows up by then.
func (r *running) seriesSeen(t *testing.T, want ...string) map[string]uns.Value {
	t.Helper()
	seen := func() map[string]uns.Value {
		m := map[string]uns.Value{}
		for _, p := range r.sink.Points() {
			m[p.Series] = p.Value
		}
		return m
	}
	r.waitFor(t, "points of "+strings.Join(want, ", "), func(connector.Status) bool {
		m := seen()
		for _, w := range want {
			if _, ok := m[w]; !ok {
				return false
			}
		}
		return true
	})
	n := r.sink.Len()
	r.waitFor(t, "one more poll", func(connector.Status) bool { return r.sink.Len() > n })
	return seen()
}

func assertSeries(t *testing.T, got map[string]uns.Value, want map[string]uns.Value) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("series:\n got %v\nwant %v", got, want)
	}
}

func TestBrowse(t *testing.T) {
	s := newPlant(t)
	tests := []struct {
		name string
		rule opcua.Browse
		max  int // max_browse_nodes; 0 for the default
		want map[string]uns.Value
	}{
		{
			name: "one level, sanitized",
			rule: opcua.Browse{Root: "ns=1;s=Line1", Pattern: "+/Temperature", Path: "demo-factory/hall-a/line-1/{1}/temp_c"},
			want: map[string]uns.Value{
				"demo-factory/hall-a/line-1/Mill2/temp_c":   uns.Float(20.5),
				"demo-factory/hall-a/line-1/Press_3/temp_c": uns.Float(21.5),
			},
		},
		{
			name: "several levels from the Objects folder",
			rule: opcua.Browse{Pattern: "Plant/+/Oven/+/Temperature", Path: "f/{2}/oven/{4}/temp_c"},
			want: map[string]uns.Value{
				"f/Line1/oven/Zone1/temp_c": uns.Float(180),
				"f/Line1/oven/Zone2/temp_c": uns.Float(185),
			},
		},
		{
			name: "# at any depth",
			rule: opcua.Browse{Root: "ns=1;s=Line1/Oven", Pattern: "#", Path: "f/line-1/oven/{1+}"},
			want: map[string]uns.Value{
				"f/line-1/oven/Zone1/Temperature":  uns.Float(180),
				"f/line-1/oven/Zone2/Temperature":  uns.Float(185),
				"f/line-1/oven/Zone2/Heater/Power": uns.Float(7.5),
			},
		},
		{
			name: "# after a literal",
			rule: opcua.Browse{Pattern: "Plant/Line2/#", Path: "f/line-2/{3+}"},
			want: map[string]uns.Value{"f/line-2/Mill1/Temperature": uns.Float(19)},
		},
		{
			name: "max_depth",
			rule: opcua.Browse{Root: "ns=1;s=Line1", Pattern: "#", Path: "f/line-1/{1+}", MaxDepth: 2},
			want: map[string]uns.Value{
				"f/line-1/Mill2/Temperature":   uns.Float(20.5),
				"f/line-1/Mill2/Speed":         uns.Float(1200),
				"f/line-1/Press_3/Temperature": uns.Float(21.5),
			},
		},
		{
			name: "match limit",
			rule: opcua.Browse{Root: "ns=1;s=Line1/Oven", Pattern: "+/Temperature", Path: "f/oven/{1}/t"},
			max:  1,
			want: map[string]uns.Value{"f/oven/Zone1/t": uns.Float(180)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := browseConfig(s, opcua.ModePoll, tt.rule)
			if tt.max > 0 {
				cfg.MaxBrowseNodes = tt.max
			}
			r := run(t, cfg)
			got := r.seriesSeen(t, slices.Collect(maps.Keys(tt.want))...)
			assertSeries(t, got, tt.want)
			st := r.in.Status()
			if tt.max > 0 {
				if st.Rejected[opcua.ReasonBrowseLimit] == 0 || !strings.Contains(st.LastError, "max_browse_nodes (1)") {
					t.Errorf("status %+v: want browse_limit counted and named in last_error", st)
				}
			} else if len(st.Rejected) > 0 {
				t.Errorf("rejected %v, want none", st.Rejected)
			}
		})
	}
}

// TestBrowseSubscribe: browse matches are monitored like explicit nodes.
func TestBrowseSubscribe(t *testing.T) {
	s := newPlant(t)
	r := run(t, browseConfig(s, opcua.ModeSubscribe,
		opcua.Browse{Root: "ns=1;s=Line1", Pattern: "+/Temperature", Path: "f/line-1/{1}/temp_c"}))
	r.waitPoint(t, "f/line-1/Mill2/temp_c", uns.Float(20.5))
	s.Set("Line1/Mill2/Temperature", 22.25)
	r.waitPoint(t, "f/line-1/Mill2/temp_c", uns.Float(22.25))
}

// TestBrowseConflicts: a match whose path an explicit node has is left out
// (explicit wins), as is a match mapped by an earlier rule or whose path is
// invalid; each is counted.
func TestBrowseConflicts(t *testing.T) {
	s := newPlant(t)
	s.Set("Line1/.cfg/Temperature", 1.0) // ".cfg" cannot start a UNS segment
	s.Set("Other", 5.0)
	cfg := browseConfig(s, opcua.ModePoll,
		opcua.Browse{Root: "ns=1;s=Line1", Pattern: "+/Temperature", Path: "f/line-1/{1}/temp_c"},
		opcua.Browse{Root: "ns=1;s=Line1", Pattern: "Mill2/+", Path: "f/line-1/mill-2/{2}"},
		opcua.Browse{Root: "ns=1;s=Line1", Pattern: "Mill2/Speed", Path: "f/line-1/mill-2/rpm"},
	)
	cfg.Nodes = []opcua.Node{{ID: s.NodeID("Other"), Path: "f/line-1/Mill2/temp_c"}}
	r := run(t, cfg)
	want := map[string]uns.Value{
		"f/line-1/Mill2/temp_c":       uns.Float(5), // the explicit node's
		"f/line-1/Press_3/temp_c":     uns.Float(21.5),
		"f/line-1/mill-2/Temperature": uns.Float(20.5), // the first rule left it out
		"f/line-1/mill-2/Speed":       uns.Float(1200),
	}
	assertSeries(t, r.seriesSeen(t, slices.Collect(maps.Keys(want))...), want)
	st := r.in.Status()
	// One connection: .cfg once; Mill2/Temperature's path (rule 0) and
	// Mill2/Speed's node (rule 2) once each.
	if got := st.Rejected[opcua.ReasonBrowseInvalidPath]; got != 1 {
		t.Errorf("browse_invalid_path %d, want 1", got)
	}
	if got := st.Rejected[opcua.ReasonBrowseDuplicate]; got != 2 {
		t.Errorf("browse_duplicate %d, want 2", got)
	}
}

// TestBrowseUnknownRoot: a root the server does not know is counted and
// named; the other rules and nodes are read.
func TestBrowseUnknownRoot(t *testing.T) {
	s := newPlant(t)
	r := run(t, browseConfig(s, opcua.ModePoll,
		opcua.Browse{Root: "ns=1;s=NoSuchFolder", Pattern: "+", Path: "f/x/{1}"},
		opcua.Browse{Root: "ns=1;s=Line2", Pattern: "+/Temperature", Path: "f/line-2/{1}/temp_c"},
	))
	r.waitPoint(t, "f/line-2/Mill1/temp_c", uns.Float(19))
	st := r.in.Status()
	if st.Rejected[opcua.ReasonBrowseFailed] == 0 {
		t.Errorf("rejected %v, want browse_failed", st.Rejected)
	}
}

// TestBrowseNothing: rules that match nothing leave a connected input that
// says so.
func TestBrowseNothing(t *testing.T) {
	s := newPlant(t)
	r := run(t, browseConfig(s, opcua.ModeSubscribe,
		opcua.Browse{Root: "ns=1;s=Line1", Pattern: "+/Pressure", Path: "f/line-1/{1}/bar"}))
	st := r.waitFor(t, "connected", func(st connector.Status) bool { return st.State == connector.Connected && st.LastError != "" })
	if !strings.Contains(st.LastError, "no variable matches") {
		t.Errorf("last_error %q", st.LastError)
	}
}

// TestBrowseAfterRestart: every connection browses anew, so a variable the
// server gained while it was away is read after the reconnection.
func TestBrowseAfterRestart(t *testing.T) {
	for _, mode := range []string{opcua.ModeSubscribe, opcua.ModePoll} {
		t.Run(mode, func(t *testing.T) {
			s := newPlant(t)
			r := run(t, browseConfig(s, mode,
				opcua.Browse{Root: "ns=1;s=Line1", Pattern: "+/Temperature", Path: "f/line-1/{1}/temp_c"}))
			r.waitPoint(t, "f/line-1/Mill2/temp_c", uns.Float(20.5))
			if err := s.Stop(); err != nil {
				t.Fatal(err)
			}
			r.waitFor(t, "disconnected", func(st connector.Status) bool { return st.State != connector.Connected })
			s.Set("Line1/Robot1/Temperature", 35.5)
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			r.waitPoint(t, "f/line-1/Robot1/temp_c", uns.Float(35.5))
			if st := r.in.Status(); st.Connects < 2 {
				t.Errorf("connects %d, want 2", st.Connects)
			}
		})
	}
}
