package hub_test

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// lockedBuffer is a log destination safe for the hub's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRetention checks that a retention run removes old points by the
// hub's default and by an organisation's own setting, and logs it.
func TestRetention(t *testing.T) {
	ctx := t.Context()
	var logs lockedBuffer
	h, err := hub.Start(ctx, hub.Config{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard,
		Log:          slog.New(slog.NewTextHandler(&logs, nil)),
		RetentionRaw: 24 * time.Hour, RetentionMinute: 48 * time.Hour, RetentionHour: hub.KeepForever,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	st := h.Store()
	if err := st.CreateOrg(ctx, store.Org{ID: "other", Name: "Other", Kind: store.Company, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetRetention(ctx, "other", store.Retention{Raw: time.Hour}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ago := func(d time.Duration) int64 { return now.Add(-d).UnixNano() }
	const path = "s/a/l/m/temp"
	for org, ages := range map[string][]time.Duration{
		hub.DefaultOrg: {72 * time.Hour, 2 * time.Hour, time.Minute},
		"other":        {3 * time.Hour, time.Minute},
	} {
		var pts []uns.Point
		for _, a := range ages {
			pts = append(pts, uns.Point{Series: path, TS: ago(a), Value: uns.Float(a.Hours())})
		}
		if _, err := st.Ingest(ctx, org, store.Source{Edge: "e-" + org}, []store.Record{{Seq: 1, Points: pts}}); err != nil {
			t.Fatal(err)
		}
	}

	if err := h.ApplyRetention(ctx, now); err != nil {
		t.Fatal(err)
	}
	for org, want := range map[string][]int64{
		hub.DefaultOrg: {ago(2 * time.Hour), ago(time.Minute)}, // the default: 24 h
		"other":        {ago(time.Minute)},                     // its own: 1 h
	} {
		pts, err := st.Raw(ctx, org, path, 0, now.UnixNano(), 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, p := range pts {
			got = append(got, p.TS)
		}
		if len(got) != len(want) || got[0] != want[0] {
			t.Errorf("points of %s after retention: %v, want %v", org, got, want)
		}
	}
	if l := logs.String(); !strings.Contains(l, `msg="retention removed old data" org=default raw=1d minute=2d hour=forever points=1 minute_buckets=1 hour_buckets=0`) ||
		!strings.Contains(l, "org=other raw=1h0m0s minute=forever hour=forever points=1") {
		t.Errorf("retention logs lack what was removed:\n%s", l)
	}
}

func TestRetentionConfig(t *testing.T) {
	tests := []struct {
		cfg  hub.Config
		want store.Retention
		ok   bool
	}{
		{hub.Config{DataDir: "d"}, store.Retention{Raw: hub.DefaultRetentionRaw, Minute: hub.DefaultRetentionMinute}, true},
		{hub.Config{DataDir: "d", RetentionRaw: hub.KeepForever, RetentionMinute: hub.KeepForever}, store.Retention{}, true},
		{hub.Config{DataDir: "d", RetentionRaw: 7 * store.Day, RetentionHour: 800 * store.Day}, store.Retention{Raw: 7 * store.Day, Minute: hub.DefaultRetentionMinute, Hour: 800 * store.Day}, true},
		{hub.Config{DataDir: "d", RetentionRaw: -2}, store.Retention{}, false},
		{hub.Config{DataDir: "d", RetentionRaw: hub.KeepForever}, store.Retention{}, false}, // minute rollups would go first
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("Validate of %+v = %v, want ok=%v", tt.cfg, err, tt.ok)
		}
		if tt.ok && tt.cfg.Retention() != tt.want {
			t.Errorf("Retention of %+v = %+v, want %+v", tt.cfg, tt.cfg.Retention(), tt.want)
		}
	}
}
