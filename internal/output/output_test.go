package output_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/output"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// startSet opens the outputs of yamlText in a temporary directory and runs
// them until the test ends.
func startSet(t *testing.T, yamlText string) *output.Set {
	t.Helper()
	return startSetB(t, yamlText)
}

func startSetB(t testing.TB, yamlText string) *output.Set {
	t.Helper()
	cfgs, err := output.Parse([]byte(yamlText))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := output.Open(t.TempDir(), cfgs, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// feed appends records of pts to s as the edge does.
func feed(t *testing.T, s *output.Set, pts ...uns.Point) {
	t.Helper()
	feedB(t, s, pts)
}

func feedB(t testing.TB, s *output.Set, pts []uns.Point) {
	t.Helper()
	if err := s.Append(t.Context(), uplink.EncodeRecord(nil, pts, nil), len(pts)); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the test's deadline comes near.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline, ok := t.Deadline()
	if !ok {
		deadline = time.Now().Add(2 * time.Minute)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Until(deadline) < 5*time.Second {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// samplePoints are one point of each value kind, at whole milliseconds.
func samplePoints(root string) []uns.Point {
	ts := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).UnixNano()
	return []uns.Point{
		{Series: root + "/hall1/press3/temperature", TS: ts, Value: uns.Float(81.25)},
		{Series: root + "/hall1/press3/count", TS: ts + 1e6, Value: uns.Int(1042)},
		{Series: root + "/hall1/press3/running", TS: ts + 2e6, Value: uns.Bool(true), Quality: uns.Uncertain},
		{Series: root + "/hall1/press3/program", TS: ts + 3e6, Value: uns.String(`P-17 "door"`)},
	}
}

func mqttAddr() string { return os.Getenv("MOLEN_TEST_MQTT") }

func unique() string { return fmt.Sprintf("%d", time.Now().UnixNano()) }

func status(s *output.Set, name string) output.Status {
	for _, st := range s.Status() {
		if st.Name == name {
			return st
		}
	}
	return output.Status{}
}
