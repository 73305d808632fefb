package service

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseManifest(t *testing.T) {
	pkg := testPackage(t)
	if pkg.Molen.ABI != ABIVersion || pkg.Limits.MemoryBytes != 64<<20 || pkg.Limits.OutputsPerInput != 2 ||
		pkg.Limits.TickOutputs != DefaultLimits.TickOutputs || Policy(pkg.Molen.OnFailure) != PassOn || len(pkg.Writes) != 1 {
		t.Errorf("package %+v, limits %+v", pkg.Molen, pkg.Limits)
	}
	// The first-party package is valid.
	if _, err := LoadPackage("../../services/spc"); err != nil {
		t.Fatal(err)
	}
}

// TestManifestErrors checks that each mistake is reported at its place,
// all at once.
func TestManifestErrors(t *testing.T) {
	data, err := os.ReadFile("testdata/margo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ old, new, want string }{
		{"id: test-service", "id: Test_Service", `metadata.id: "Test_Service": want 2-63 of a-z 0-9 -`},
		{"version: 1.0.0", "version: v1", `metadata.version: "v1": want a semantic version`},
		{"      - name: molen\n", "", "metadata.catalog.organization: missing"},
		{"category: iot", "category: ml", `x-molen.category: "ml": want one of ai, robotics, 3d-printing`},
		{"maturity: [data-management]", "maturity: [speed]", `x-molen.maturity[0]: "speed"`},
		{"abi: molen-svc/1", "abi: molen-svc/2", `x-molen.abi: "molen-svc/2": this edge runs molen-svc/1`},
		{"module: module.wasm", "module: ../x.wasm", `x-molen.module: "../x.wasm": want a path inside the package`},
		{"host: [log, metrics, clock, state]", "host: [log, network]", `x-molen.capabilities.host[1]: "network"`},
		{`writes: ["acme/#"]`, `writes: ["acme/#/x"]`, "x-molen.capabilities.writes[0]:"},
		{"events: [test]", "events: [Bad Kind]", `x-molen.capabilities.events[0]: "Bad Kind"`},
		{"memory: 64Mi, batchTime", "memory: lots, batchTime", `x-molen.limits.memory: "lots": want 1Mi to 4Gi`},
		{"outputsPerInput: 2", "outputsPerInput: 5000", "x-molen.limits.outputsPerInput: 5000: want 1..1000"},
		{"nl: {name: Testdienst, description: Een module voor de tests.}", "de: {name: Testdienst, description: x}", "x-molen.translations.nl: missing"},
		{"label: {en: Misbehaviour, nl: Wangedrag}", "label: {en: Misbehaviour}", "parameters[0].label: want {en: …, nl: …}"},
		{"type: enum\n", "type: list\n", `parameters[0].type: "list": want string, number, integer, boolean or enum`},
		{"    x-molen:", "    x-other:", "line "}, // an unknown field, named with its line
		{"type: custom", "type: helm.v3", "deploymentProfiles: no profile of type custom with x-molen"},
	} {
		s := string(data)
		if !strings.Contains(s, tc.old) {
			t.Fatalf("testdata/margo.yaml has no %q", tc.old)
		}
		_, err := ParseManifest([]byte(strings.Replace(s, tc.old, tc.new, 1)))
		if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q → %q: got %v, want %q", tc.old, tc.new, err, tc.want)
		}
	}
	// Several mistakes are reported together.
	s := strings.Replace(strings.Replace(string(data), "category: iot", "category: ml", 1), "version: 1.0.0", "version: x", 1)
	if _, err := ParseManifest([]byte(s)); err == nil || !strings.Contains(err.Error(), "category") || !strings.Contains(err.Error(), "version") {
		t.Errorf("got %v, want both errors", err)
	}
}

func TestParams(t *testing.T) {
	pkg, err := LoadPackage("../../services/spc")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pkg.Params(map[string]any{"mean": 10, "sigma": 0.5})
	if err != nil || string(got) != `{"baseline":30,"mean":10,"rules":"1,2,3,4","sigma":0.5}` {
		t.Errorf("got %s, %v; want the defaults filled in", got, err)
	}
	for _, tc := range []struct {
		params map[string]any
		want   string
	}{
		{map[string]any{"baseline": 2.5}, "baseline: 2.5: want an integer"},
		{map[string]any{"baseline": "ten"}, "baseline: ten: want a number"},
		{map[string]any{"rules": 4}, "rules: 4: want a string"},
		{map[string]any{"sigma": -1}, "sigma: -1: want >= 0"},
	} {
		if _, err := pkg.Params(tc.params); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.params, err, tc.want)
		}
	}
}
