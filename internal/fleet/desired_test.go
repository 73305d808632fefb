package fleet

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/uplink"
)

func raw(s string) json.RawMessage { return json.RawMessage(s) }

const (
	tempsV1 = `{"match": ["acme/+/line1/+/temp"], "stages": [{"deadband": {"absolute": 0.5}}]}`
	tempsV2 = `{"match": ["acme/+/line1/+/temp"], "stages": [{"deadband": {"absolute": 1}}]}`
	press   = `{"modbus": {"url": "tcp://10.0.0.5:502", "registers": [{"address": 0, "path": "acme/hall/press/p1/count"}]}}`
)

// The layers apply in the fixed order organisation < site < group < edge,
// part by part; the explanation names the layer of each part; the version
// grows exactly when the content changes; another organisation sees none
// of it.
func TestDesiredLayers(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		s := newService(t, db)
		e1, _, err := s.CreateEdge(ctx, "acme", "press hall")
		if err != nil {
			t.Fatal(err)
		}
		e2, _, err := s.CreateEdge(ctx, "acme", "paint shop")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetPlace(ctx, "acme", e1.ID, Place{Site: "hall-1", Labels: map[string]string{"line": "press", "ring": "canary"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPlace(ctx, "acme", e2.ID, Place{Site: "hall-2", Labels: map[string]string{"line": "paint"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutGroup(ctx, "acme", Group{Name: "presses", Selector: map[string]string{"line": "press"}}); err != nil {
			t.Fatal(err)
		}
		put := func(l Layer) {
			t.Helper()
			l.Org = "acme"
			if err := s.PutLayer(ctx, &l); err != nil {
				t.Fatalf("put layer %s/%s: %v", l.Scope, l.Target, err)
			}
		}
		put(Layer{Scope: ScopeOrg, Pipelines: map[string]json.RawMessage{"temps": raw(tempsV1)},
			Settings: map[string]json.RawMessage{"poll_interval": raw(`"30s"`), "health_window": raw(`"1m"`)}})
		put(Layer{Scope: ScopeSite, Target: "hall-1", Settings: map[string]json.RawMessage{"poll_interval": raw(`"10s"`)}})
		put(Layer{Scope: ScopeGroup, Target: "presses", Pipelines: map[string]json.RawMessage{"temps": raw(tempsV2)},
			Inputs: map[string]json.RawMessage{"press": raw(press)}})
		put(Layer{Scope: ScopeEdge, Target: e1.ID, Settings: map[string]json.RawMessage{"health_window": raw(`null`)}})

		d1, err := s.Desired(ctx, "acme", e1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := d1.Manifest.Verify(); err != nil {
			t.Fatalf("the hub's own manifest does not verify: %v", err)
		}
		names := func(m uplink.Manifest) (out []string) {
			for _, p := range m.Parts {
				out = append(out, p.Name)
			}
			return out
		}
		if got, want := names(d1.Manifest), []string{"input/press", "pipeline/temps", "setting/poll_interval"}; !slices.Equal(got, want) {
			t.Errorf("parts of e1 %v, want %v", got, want)
		}
		if p, _ := d1.Manifest.Part("pipeline/temps"); !strings.Contains(string(p.Content), `"absolute":1`) {
			t.Errorf("pipeline/temps of e1 is %s, want the group's", p.Content)
		}
		if p, _ := d1.Manifest.Part("setting/poll_interval"); string(p.Content) != `"10s"` {
			t.Errorf("poll_interval of e1 is %s, want the site's", p.Content)
		}
		wantExplain := []Origin{
			{Part: "input/press", Layer: "group:presses"},
			{Part: "pipeline/temps", Layer: "group:presses", Overridden: []string{"org"}},
			{Part: "setting/health_window", Layer: "edge", Removed: true, Overridden: []string{"org"}},
			{Part: "setting/poll_interval", Layer: "site:hall-1", Overridden: []string{"org"}},
		}
		if got, _ := json.Marshal(d1.Explain); string(got) != string(must(json.Marshal(wantExplain))) {
			t.Errorf("explain of e1\n got %s\nwant %s", got, must(json.Marshal(wantExplain)))
		}
		if !slices.Equal(d1.Groups, []string{"presses"}) {
			t.Errorf("groups of e1 %v", d1.Groups)
		}
		d2, err := s.Desired(ctx, "acme", e2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := names(d2.Manifest), []string{"pipeline/temps", "setting/health_window", "setting/poll_interval"}; !slices.Equal(got, want) {
			t.Errorf("parts of e2 %v, want %v", got, want)
		}

		// The version: the same content keeps it, a change takes the next.
		again, err := s.Desired(ctx, "acme", e1.ID)
		if err != nil || again.Manifest.Version != d1.Manifest.Version || again.Manifest.Digest != d1.Manifest.Digest {
			t.Errorf("unchanged manifest: version %d → %d, %v", d1.Manifest.Version, again.Manifest.Version, err)
		}
		put(Layer{Scope: ScopeSite, Target: "hall-1", Settings: map[string]json.RawMessage{"poll_interval": raw(`"15s"`)}})
		changed, err := s.Desired(ctx, "acme", e1.ID)
		if err != nil || changed.Manifest.Version != d1.Manifest.Version+1 || changed.Manifest.Digest == d1.Manifest.Digest {
			t.Errorf("changed manifest: version %d → %d, %v", d1.Manifest.Version, changed.Manifest.Version, err)
		}
		// Going back to the earlier content is a new version, never the old one.
		put(Layer{Scope: ScopeSite, Target: "hall-1", Settings: map[string]json.RawMessage{"poll_interval": raw(`"10s"`)}})
		back, err := s.Desired(ctx, "acme", e1.ID)
		if err != nil || back.Manifest.Version != changed.Manifest.Version+1 || back.Manifest.Digest != d1.Manifest.Digest {
			t.Errorf("content as before: version %d (digest same %v), want %d; %v", back.Manifest.Version,
				back.Manifest.Digest == d1.Manifest.Digest, changed.Manifest.Version+1, err)
		}

		// Another organisation sees neither the edge nor its layers.
		if _, err := s.Desired(ctx, "globex", e1.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("globex computes acme's edge: %v", err)
		}
		if ls, err := s.Layers(ctx, "globex"); err != nil || len(ls) != 0 {
			t.Errorf("globex's layers: %v, %v", ls, err)
		}
		if err := s.PutLayer(ctx, &Layer{Org: "globex", Scope: ScopeEdge, Target: e1.ID}); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("globex puts a layer on acme's edge: %v", err)
		}
		inv, err := s.Inventory(ctx, "acme", Filter{Labels: map[string]string{"line": "press"}})
		if err != nil || len(inv) != 1 || inv[0].ID != e1.ID || inv[0].Site != "hall-1" || !slices.Equal(inv[0].Groups, []string{"presses"}) {
			t.Errorf("inventory by label: %+v, %v", inv, err)
		}
		if inv, err := s.Inventory(ctx, "globex", Filter{}); err != nil || len(inv) != 0 {
			t.Errorf("globex's inventory: %+v, %v", inv, err)
		}
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// A layer with an invalid part is refused with a message naming it, and
// nothing of it is stored.
func TestLayerValidation(t *testing.T) {
	s := newService(t, metatest.SQLite(t))
	ctx := t.Context()
	e, _, err := s.CreateEdge(ctx, "acme", "press hall")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		layer Layer
		want  string
	}{
		{"bad window", Layer{Scope: ScopeOrg, Pipelines: map[string]json.RawMessage{"temps": raw(`{"match": ["a/#"], "stages": [{"window": {"size": "0s", "aggregates": ["mean"]}}]}`)}},
			"pipelines.temps.stages[0].window.size"},
		{"unknown operator", Layer{Scope: ScopeOrg, Pipelines: map[string]json.RawMessage{"temps": raw(`{"match": ["a/#"], "stages": [{"smooth": {}}]}`)}},
			`pipelines.temps.stages[0]: unknown operator "smooth"`},
		{"named pipeline", Layer{Scope: ScopeOrg, Pipelines: map[string]json.RawMessage{"temps": raw(`{"name": "x", "match": ["a/#"], "stages": []}`)}},
			"pipelines.temps.name"},
		{"unknown input kind", Layer{Scope: ScopeOrg, Inputs: map[string]json.RawMessage{"press": raw(`{"profinet": {}}`)}}, "inputs.press"},
		{"bad modbus unit", Layer{Scope: ScopeOrg, Inputs: map[string]json.RawMessage{"press": raw(`{"modbus": {"url": "tcp://10.0.0.5:502", "unit_id": 900, "registers": [{"address": 0, "path": "a/b"}]}}`)}},
			"inputs.press.modbus.unit_id"},
		{"unknown setting", Layer{Scope: ScopeOrg, Settings: map[string]json.RawMessage{"colour": raw(`"red"`)}}, "settings.colour: unknown setting"},
		{"bad duration", Layer{Scope: ScopeOrg, Settings: map[string]json.RawMessage{"poll_interval": raw(`"soon"`)}}, "settings.poll_interval"},
		{"bad part name", Layer{Scope: ScopeOrg, Settings: map[string]json.RawMessage{"Poll Interval": raw(`"1m"`)}}, "settings.Poll Interval: name"},
		{"bad scope", Layer{Scope: "region", Target: "north"}, "scope"},
		{"org with target", Layer{Scope: ScopeOrg, Target: "x"}, "target"},
		{"unknown edge", Layer{Scope: ScopeEdge, Target: "edge-nobody"}, "not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.layer.Org = "acme"
			err := s.PutLayer(ctx, &c.layer)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one saying %q", err, c.want)
			}
			if c.want != "not found" && !errors.Is(err, api.ErrBadRequest) {
				t.Errorf("error %v is not a bad request", err)
			}
		})
	}
	if ls, err := s.Layers(ctx, "acme"); err != nil || len(ls) != 0 {
		t.Errorf("refused layers were stored: %+v, %v", ls, err)
	}
	d, err := s.Desired(ctx, "acme", e.ID)
	if err != nil || len(d.Manifest.Parts) != 0 || d.Manifest.Version != 1 {
		t.Errorf("manifest without layers: %+v, %v", d.Manifest, err)
	}
}

// A manifest whose part does not match its digest, or whose digest is not
// its parts', does not verify.
func TestManifestVerify(t *testing.T) {
	parts := []uplink.Part{
		{Name: "pipeline/temps", Kind: "pipeline", Content: raw(`{"match":["a/#"],"stages":[]}`)},
		{Name: "setting/poll_interval", Kind: "setting", Content: raw(`"10s"`)},
	}
	for i := range parts {
		parts[i].Digest = uplink.PartDigest(parts[i].Content)
	}
	good := uplink.Manifest{Edge: "e", Version: 3, Parts: parts, Digest: uplink.ManifestDigest(parts)}
	if err := good.Verify(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(m *uplink.Manifest){
		"content changed": func(m *uplink.Manifest) { m.Parts[1].Content = raw(`"1s"`) },
		"digest changed":  func(m *uplink.Manifest) { m.Digest = uplink.PartDigest(nil) },
		"unsorted":        func(m *uplink.Manifest) { m.Parts[0], m.Parts[1] = m.Parts[1], m.Parts[0] },
		"kind not name":   func(m *uplink.Manifest) { m.Parts[0].Kind = "input" },
	} {
		m := good
		m.Parts = slices.Clone(good.Parts)
		mutate(&m)
		if err := m.Verify(); !errors.Is(err, uplink.ErrManifest) {
			t.Errorf("%s: Verify = %v, want ErrManifest", name, err)
		}
	}
}
