package main

import (
	"strings"
	"testing"

	"github.com/molen-io/molen/sdk/molensvc"
)

// TestRules feeds each Western Electric rule a sequence that breaks it
// (and only it, with the others enabled) after a known centre line 10 and
// sigma 1, natively (the SDK's host functions are in memory here).
func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []float64
		want   []string // the rule of each event, in order
	}{
		{"in control", []float64{10.5, 9.5, 10.2, 9.8, 10.9, 9.1, 10, 10.3, 9.7}, nil},
		{"rule 1: beyond 3σ", []float64{10, 13.5}, []string{"1"}},
		{"rule 1: below", []float64{10, 6.4}, []string{"1"}},
		{"rule 2: two of three beyond 2σ", []float64{12.5, 10, 12.2}, []string{"2"}},
		{"rule 2: not on opposite sides", []float64{12.5, 10, 7.5}, nil},
		{"rule 3: four of five beyond 1σ", []float64{11.5, 11.2, 10.2, 11.4, 11.1}, []string{"3"}},
		{"rule 4: eight on one side", []float64{10.1, 10.2, 10.3, 10.1, 10.4, 10.2, 10.3, 10.1}, []string{"4"}},
		{"rule 4: seven are not enough", []float64{10.1, 10.2, 10.3, 10.1, 10.4, 10.2, 10.3, 9.9}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &spc{}
			if err := s.Init([]byte(`{"mean": 10, "sigma": 1}`)); err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, v := range tc.values {
				var out molensvc.Output
				in := []molensvc.Point{{Series: "acme/h/l/lathe/diameter", TS: int64(i), Value: molensvc.Float(v)}}
				if err := s.Process(in, &out); err != nil {
					t.Fatal(err)
				}
				if len(out.Points) != 1 {
					t.Fatalf("got %d points, want the input passed on", len(out.Points))
				}
				for _, e := range out.Events {
					got = append(got, e.Attrs["rule"])
					if e.Kind != "spc" || e.Asset != "acme/h/l/lathe" || e.Start != int64(i) {
						t.Errorf("event %+v", e)
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("rules %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLearnsBaseline checks that the baseline is learned from the first
// points, kept in the state, and read back by a new instance.
func TestLearnsBaseline(t *testing.T) {
	s := &spc{}
	if err := s.Init([]byte(`{"baseline": 5}`)); err != nil {
		t.Fatal(err)
	}
	var out molensvc.Output
	for i, v := range []float64{9, 10, 11, 10, 10} {
		s.Process([]molensvc.Point{{Series: "acme/x/diameter", TS: int64(i), Value: molensvc.Int(int64(v))}}, &out)
	}
	v, ok := molensvc.State("baseline/acme/x/diameter")
	if !ok || !strings.HasPrefix(string(v), "10,0.7071") {
		t.Fatalf("state %q %v: want mean 10, sigma 0.7071…", v, ok)
	}
	fresh := &spc{}
	fresh.Init([]byte(`{"baseline": 5}`))
	out = molensvc.Output{}
	fresh.Process([]molensvc.Point{{Series: "acme/x/diameter", TS: 9, Value: molensvc.Float(13)}}, &out)
	if len(out.Events) != 1 || out.Events[0].Attrs["rule"] != "1" {
		t.Fatalf("a new instance: events %+v, want rule 1 from the stored baseline", out.Events)
	}
}

func TestBadParams(t *testing.T) {
	for _, p := range []string{`{"mean": 1}`, `{"mean": 1, "sigma": 0}`, `{"rules": "1,5"}`, `[`} {
		if err := (&spc{}).Init([]byte(p)); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}
