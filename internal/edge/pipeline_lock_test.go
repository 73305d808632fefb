package edge

import (
	"testing"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

// TestStatusWhilePipelinesEmitEvents: the status (as the edge's reports
// and its status API read it) and a pipeline handing out events at the
// same time never wait for each other for good. The pipeline holds its
// lock while it gives its events to the edge; the status once took the
// edge's lock first and then the pipeline's, and the two stopped each
// other, and with them the device listener.
func TestStatusWhilePipelinesEmitEvents(t *testing.T) {
	def, err := pipeline.Parse([]byte(`pipelines:
  - name: alarms
    match: "f/#"
    stages:
      - alarm: {limits: [{high: 0}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	ps := &pipelineState{eventCount: map[string]int64{}, local: map[string]uns.Point{}}
	if ps.runner, err = pipeline.NewRunner(def, pipeline.Options{Events: ps.addEvents, Local: ps.addLocal}); err != nil {
		t.Fatal(err)
	}
	const n = 20_000
	done := make(chan struct{})
	go func() {
		defer close(done)
		ts := time.Unix(1_800_000_000, 0).UnixNano()
		for i := range n {
			// Above and below the limit in turn: a raise or a clear each.
			ps.runner.Process([]uns.Point{{Series: "f/m/temp", TS: ts + int64(i)*1e6, Value: uns.Float(float64(1 - 2*(i%2)))}})
			if i%1000 == 0 {
				ps.drainOutgoing(nil)
			}
		}
	}()
	reads := 0
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case <-done:
			if st := ps.status(); st.Events["alarm"] != n {
				t.Errorf("%d alarm events counted, want %d", st.Events["alarm"], n)
			}
			t.Logf("%d status reads while the pipeline ran", reads)
			return
		case <-deadline:
			t.Fatalf("the pipeline and the status still wait for each other after 2 minutes (%d status reads)", reads)
		default:
			ps.status()
			reads++
		}
	}
}
