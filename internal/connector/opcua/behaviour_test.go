package opcua_test

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/opcua"
	"github.com/molen-io/molen/internal/connector/opcua/opcuatest"
	"github.com/molen-io/molen/internal/uns"
)

// wait bounds every wait of these tests: a limit for a hung input, not a
// performance requirement. The gopcua server is slow to start (it parses
// its address space from XML), the more so under the race detector on a
// busy machine.
const wait = 30 * time.Second

// running is an input under Run until the test ends.
type running struct {
	in   connector.Input
	sink *connectortest.Sink
}

func run(t *testing.T, cfg *opcua.Config) *running {
	t.Helper()
	r := &running{in: build(t, cfg), sink: connectortest.NewSink()}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.in.Run(ctx, r.sink) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(wait):
			t.Errorf("Run did not return within %v after its context ended", wait)
		}
	})
	return r
}

func (r *running) waitFor(t *testing.T, what string, cond func(connector.Status) bool) connector.Status {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		st := r.in.Status()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			// The goroutines of client and server show where a hung
			// connection stands.
			var buf bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("waited %v for %s; status %+v\ngoroutines:\n%s", wait, what, st, &buf)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitPoint waits for a point of series with value v and returns it.
func (r *running) waitPoint(t *testing.T, series string, v uns.Value) uns.Point {
	t.Helper()
	var got uns.Point
	r.waitFor(t, series+" = "+v.String(), func(connector.Status) bool {
		for _, p := range r.sink.Points() {
			if p.Series == series && p.Value == v {
				got = p
				return true
			}
		}
		return false
	})
	return got
}

func TestFallbackReported(t *testing.T) {
	s := newServer(t, opcuatest.Options{NoSubscriptions: true})
	r := run(t, fastConfig(s, opcua.ModeSubscribe))
	st := r.waitFor(t, "subscribe_refused", func(st connector.Status) bool {
		return st.Rejected[opcua.ReasonSubscribeRefused] > 0
	})
	if !strings.Contains(st.LastError, "BadServiceUnsupported") || !strings.Contains(st.LastError, "polling") {
		t.Errorf("last_error %q: want the refusal and that it polls", st.LastError)
	}
	s.Set("Temp", 99.5)
	r.waitPoint(t, series("Temp"), uns.Float(99.5))
}

// TestValues checks what becomes of values by status and type, in both
// modes.
func TestValues(t *testing.T) {
	for _, mode := range []string{opcua.ModeSubscribe, opcua.ModePoll} {
		t.Run(mode, func(t *testing.T) {
			s := newServer(t, opcuatest.Options{})
			r := run(t, fastConfig(s, mode))
			r.waitPoint(t, series("Temp"), uns.Float(20.5))

			// Uncertain: written with its quality; the source timestamp is kept.
			src := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			s.SetDataValue("Temp", &ua.DataValue{
				EncodingMask:    ua.DataValueValue | ua.DataValueStatusCode | ua.DataValueSourceTimestamp,
				Value:           ua.MustVariant(7.25),
				Status:          ua.StatusUncertainLastUsableValue,
				SourceTimestamp: src,
			})
			if p := r.waitPoint(t, series("Temp"), uns.Float(7.25)); p.Quality != uns.Uncertain || p.TS != src.UnixNano() {
				t.Errorf("uncertain point %+v: want quality uncertain and ts %d", p, src.UnixNano())
			}

			// Server timestamp when there is no source timestamp.
			srvTS := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			s.SetDataValue("Count", &ua.DataValue{
				EncodingMask:    ua.DataValueValue | ua.DataValueServerTimestamp,
				Value:           ua.MustVariant(int32(42)),
				ServerTimestamp: srvTS,
			})
			if p := r.waitPoint(t, series("Count"), uns.Int(42)); p.TS != srvTS.UnixNano() || p.Quality != uns.Good {
				t.Errorf("point %+v: want the server timestamp %d, quality good", p, srvTS.UnixNano())
			}

			for _, tt := range []struct {
				name   string
				set    func()
				reason string
			}{
				{"bad status", func() { s.SetStatus(badVar, int32(5), ua.StatusBadSensorFailure) }, opcua.ReasonBadStatus},
				{"byte string", func() { s.Set(badVar, []byte{1, 2, 3}) }, opcua.ReasonUnsupportedType},
				{"array", func() { s.Set(badVar, []int32{1, 2}) }, opcua.ReasonUnsupportedType},
				{"date", func() { s.Set(badVar, time.Now()) }, opcua.ReasonUnsupportedType},
				{"nan", func() { s.Set(badVar, nan()) }, opcua.ReasonNotFinite},
				{"uint64 overflow", func() { s.Set(badVar, uint64(1<<63)) }, opcua.ReasonOutOfRange},
				{"good without value", func() { s.SetStatus(badVar, nil, ua.StatusOK) }, opcua.ReasonNoValue},
			} {
				before := r.in.Status().Rejected[tt.reason]
				tt.set()
				st := r.waitFor(t, tt.name+" counted as "+tt.reason, func(st connector.Status) bool {
					return st.Rejected[tt.reason] > before
				})
				if !strings.Contains(st.LastError, series(badVar)) {
					t.Errorf("%s: last_error %q does not name the series", tt.name, st.LastError)
				}
			}
			for _, p := range r.sink.Points() {
				if p.Series == series(badVar) && p.Value != uns.Int(0) {
					t.Errorf("a rejected value was written: %+v", p)
				}
			}
			// Reading goes on.
			s.Set("Temp", 1.5)
			r.waitPoint(t, series("Temp"), uns.Float(1.5))
		})
	}
}

// TestMonitorRefused: a node the server does not know cannot be monitored;
// it is counted, polled (and so reported as bad), and the others are read.
func TestMonitorRefused(t *testing.T) {
	s := newServer(t, opcuatest.Options{})
	cfg := fastConfig(s, opcua.ModeSubscribe)
	cfg.Nodes = append(cfg.Nodes, opcua.Node{ID: "ns=1;s=NoSuchNode", Path: prefix + "missing"})
	r := run(t, cfg)
	r.waitPoint(t, series("Recipe"), uns.String("recipe-0"))
	// The gopcua test server accepts monitored items for any node and
	// notifies BadNodeIdUnknown; servers that refuse them make the input
	// poll the node, which reports the same.
	st := r.waitFor(t, "the unknown node counted", func(st connector.Status) bool {
		return st.Rejected[opcua.ReasonBadStatus]+st.Rejected[opcua.ReasonMonitorRefused] > 0
	})
	if !strings.Contains(st.LastError, "NoSuchNode") {
		t.Errorf("last_error %q does not name the node", st.LastError)
	}
}

// TestSecurityNotOffered: Sign and SignAndEncrypt configs are checked
// against the endpoints the server offers; the test server offers None
// only, so the input says so and keeps retrying.
func TestSecurityNotOffered(t *testing.T) {
	s := newServer(t, opcuatest.Options{})
	creds := writeCredentials(t)
	for _, mode := range []string{"Sign", "SignAndEncrypt"} {
		t.Run(mode, func(t *testing.T) {
			cfg := fastConfig(s, opcua.ModePoll)
			cfg.SecurityMode = mode
			cfg.Certificate, cfg.PrivateKey = creds.cert, creds.key
			cfg.TrustedServerCertificates = []string{creds.cert}
			r := run(t, cfg)
			st := r.waitFor(t, "disconnected", func(st connector.Status) bool { return st.State == connector.Disconnected })
			want := "offers no endpoint with security " + mode + "/Basic256Sha256; it offers None/None"
			if !strings.Contains(st.LastError, want) {
				t.Errorf("last_error %q, want it to contain %q", st.LastError, want)
			}
			if st.Connects != 0 {
				t.Errorf("connects %d, want 0", st.Connects)
			}
		})
	}
}
