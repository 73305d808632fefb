package hub_test

import (
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/logtest"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// TestRetention checks that a retention run removes old points by the
// hub's default and by an organisation's own setting, and logs it. The
// hub's clock is fixed, so its own run at start, whenever it comes, does
// what the test's run does: each removal is logged once, by one of them.
func TestRetention(t *testing.T) {
	ctx := t.Context()
	var logs logtest.Buffer
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	h, err := hub.Start(ctx, hub.Config{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard,
		Log:          slog.New(slog.NewTextHandler(&logs, nil)),
		RetentionRaw: 24 * time.Hour, RetentionMinute: 48 * time.Hour, RetentionHour: hub.KeepForever,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	st := h.Store()
	if err := h.Auth().CreateOrg(ctx, auth.Org{ID: "other", Name: "Other", Kind: auth.Company, Created: now}); err != nil {
		t.Fatal(err)
	}
	if err := h.Series().SetRetention(ctx, "other", store.Retention{Raw: time.Hour}); err != nil {
		t.Fatal(err)
	}
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

	if ran, err := h.RunRetention(ctx, now); err != nil || !ran {
		t.Fatalf("RunRetention = %v, %v; want a run", ran, err)
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

// TestRetentionLease runs retention on one hub at a time: while another
// holder has the lease, this hub skips; once the lease expired, it runs.
func TestRetentionLease(t *testing.T) {
	ctx := t.Context()
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	h, err := hub.Start(ctx, hub.Config{DataDir: dir, Listen: "127.0.0.1:0", Out: io.Discard, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// The hub's first run (its loop runs one at start, too: both at t0)
	// holds the lease until t0+70m.
	if ran, err := h.RunRetention(ctx, t0); err != nil || !ran {
		t.Fatalf("first RunRetention = %v, %v; want a run", ran, err)
	}
	db, err := meta.OpenSQLite(ctx, filepath.Join(dir, hub.MetaFile), meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other := &meta.Lease{DB: db, Name: "retention", Holder: "another hub", TTL: time.Hour}
	if held, err := other.Acquire(ctx, t0.Add(time.Hour)); err != nil || held {
		t.Fatalf("another hub took the lease the hub holds: %v, %v", held, err)
	}
	if held, err := other.Acquire(ctx, t0.Add(80*time.Minute)); err != nil || !held {
		t.Fatalf("another hub cannot take the expired lease: %v, %v", held, err)
	}
	for _, tt := range []struct {
		at   time.Duration
		want bool
	}{
		{90 * time.Minute, false},  // the other holds it until t0+140m
		{139 * time.Minute, false}, // still
		{140 * time.Minute, true},  // expired: this hub runs, and holds it
		{141 * time.Minute, true},  // renewing its own lease
	} {
		ran, err := h.RunRetention(ctx, t0.Add(tt.at))
		if err != nil || ran != tt.want {
			t.Errorf("RunRetention at t0+%v = %v, %v; want %v", tt.at, ran, err, tt.want)
		}
	}
	if held, _ := other.Acquire(ctx, t0.Add(142*time.Minute)); held {
		t.Error("the other hub took the lease back while this hub holds it")
	}
}
