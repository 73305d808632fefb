package output_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/molen-io/molen/internal/connector/sparkplug"
	"github.com/molen-io/molen/internal/uns"
)

// collect is a connector sink that keeps what an input wrote.
type collect struct {
	mu  sync.Mutex
	got map[string]uns.Point
}

func (c *collect) Write(_ context.Context, pts []uns.Point) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range pts {
		c.got[fmt.Sprint(p.Series, p.TS)] = p
	}
	return nil
}

func (c *collect) has(want []uns.Point) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range want {
		w.Series = "edge1/" + w.Series // the host's path: {edge_node}/{metric}
		w.Quality = uns.Good           // Sparkplug data carries no quality
		if c.got[fmt.Sprint(w.Series, w.TS)] != w {
			return false
		}
	}
	return true
}

// TestSparkplugEdgeNode publishes points as a Sparkplug B edge node on
// Mosquitto and reads them with molen's own Sparkplug host input, which
// starts after the node's birth: it asks for a rebirth, gets it, and from
// then decodes the data by alias. A metric new to the node makes it born
// again with it.
func TestSparkplugEdgeNode(t *testing.T) {
	url := mosquitto(t)
	group := "molen-test-" + unique()
	s := startSet(t, fmt.Sprintf("outputs:\n  - sparkplug: {url: %s, group: %s, edge_node: edge1}\n", url, group))
	pts := samplePoints("plant")
	feed(t, s, pts[:2]...)
	waitFor(t, "the first data sent", func() bool { return status(s, "sparkplug").Sent == 2 })

	cfg := sparkplug.NewConfig()
	cfg.URL = url
	cfg.Groups = []sparkplug.Group{{Group: group, Path: "{edge_node}/{metric}"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	in, err := sparkplug.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sink := &collect{got: map[string]uns.Point{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { in.Run(ctx, sink) })
	defer func() { cancel(); wg.Wait() }()

	// The host missed the birth: data it cannot decode makes it ask for a
	// rebirth; the birth carries the latest values.
	more := func(v float64) uns.Point {
		p := pts[0]
		p.TS += int64(v) * 1e9
		p.Value = uns.Float(v)
		return p
	}
	for i := 1; !sink.has([]uns.Point{pts[1]}); i++ {
		if i > 1000 {
			t.Fatalf("the host never got the node's birth: %+v", status(s, "sparkplug"))
		}
		feed(t, s, more(float64(i)))
		waitFor(t, "the data sent", func() bool { return status(s, "sparkplug").Pending == 0 })
	}
	// Once born, data by alias, and new metrics (a rebirth) too.
	want := append([]uns.Point{more(5000)}, pts[2:]...)
	feed(t, s, want...)
	waitFor(t, "the host to read the data", func() bool { return sink.has(want) })
	sink.mu.Lock()
	t.Logf("host got %d points", len(sink.got))
	sink.mu.Unlock()
	if st := status(s, "sparkplug"); st.State != "ok" || st.Dropped != 0 {
		t.Errorf("status %+v", st)
	}
}
