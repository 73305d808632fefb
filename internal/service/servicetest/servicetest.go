// Package servicetest checks a Go service's WebAssembly module against the
// service's own logic run natively: the same input must give the same
// points and events, with no failed call. It catches what only the module
// does wrong, such as keeping a series name that points into the input
// buffer (molensvc.Point).
package servicetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/service"
	"github.com/molen-io/molen/internal/sim/simfeed"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/sdk/molensvc"
)

// Package copies the package in dir (its manifest and files, not its
// module) to a temporary directory and builds its module there.
func Package(t testing.TB, dir string) *service.Package {
	t.Helper()
	src, err := service.LoadPackage(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) == ".wasm" || filepath.Ext(e.Name()) == ".go" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := service.BuildGo(t.Context(), filepath.Join(dir, src.Molen.Source), filepath.Join(tmp, src.Molen.Module)); err != nil {
		t.Fatal(err)
	}
	pkg, err := service.LoadPackage(tmp)
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

// Agree runs ticks ticks of src (from simfeed.Start, a second apart, one
// batch a tick followed by a Tick) through native, the service's logic,
// and through the module built from the package in dir, as an edge runs
// it; it fails the test unless both emit the same points and events and
// every call of the module succeeded. It returns the module's output for
// further checks.
func Agree(t testing.TB, dir string, native molensvc.Service, params string, src simfeed.Source, ticks int) *pipeline.Output {
	t.Helper()
	pkg := Package(t, dir)
	given := map[string]any{}
	if params != "" {
		if err := json.Unmarshal([]byte(params), &given); err != nil {
			t.Fatal(err)
		}
	}
	full, err := pkg.Params(given) // checked and filled with defaults, as the edge does
	if err != nil {
		t.Fatal(err)
	}
	in, err := service.Open(t.Context(), pkg, service.Options{Params: full, EventClock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(t.Context())
	if err := native.Init(full); err != nil {
		t.Fatal(err)
	}
	var got, want pipeline.Output
	var nout molensvc.Output
	for i := range ticks {
		now := simfeed.Start.Add(time.Duration(i) * time.Second)
		pts := src(now)
		var sel []uns.Point
		for _, p := range pts {
			for _, g := range pkg.Reads {
				if g.Match(p.Series) {
					sel = append(sel, p)
					break
				}
			}
		}
		in.Process(t.Context(), sel, &got)
		in.Tick(t.Context(), now.UnixNano(), &got)
		if err := native.Process(simfeed.Points(sel), &nout); err != nil {
			t.Fatal(err)
		}
		if err := native.Tick(now.UnixNano(), &nout); err != nil {
			t.Fatal(err)
		}
		want.Points = append(want.Points, simfeed.UNS(nout.Points)...)
		for _, e := range nout.Events {
			want.Events = append(want.Events, uns.Event{Asset: e.Asset, Kind: e.Kind, Start: e.Start, End: e.End, Attrs: e.Attrs})
		}
		nout = molensvc.Output{}
	}
	if s := in.Stats(); s.Failures > 0 {
		t.Fatalf("module: %d calls failed; last: %s", s.Failures, s.LastError)
	}
	if len(got.Points) != len(want.Points) || len(got.Events) != len(want.Events) {
		t.Fatalf("module emitted %d points and %d events, the service's logic %d and %d",
			len(got.Points), len(got.Events), len(want.Points), len(want.Events))
	}
	for i := range got.Points {
		if g, w := got.Points[i], want.Points[i]; g != w {
			t.Fatalf("point %d: module %s, logic %s", i, show(g), show(w))
		}
	}
	for i := range got.Events {
		g, w := got.Events[i], want.Events[i]
		if g.Asset != w.Asset || g.Kind != w.Kind || g.Start != w.Start || g.End != w.End || !maps.Equal(g.Attrs, w.Attrs) {
			t.Fatalf("event %d: module %+v, logic %+v", i, g, w)
		}
	}
	return &got
}

func show(p uns.Point) string {
	return fmt.Sprintf("%s@%d=%v(%s)", p.Series, p.TS, p.Value, p.Quality)
}
