package importrules

import (
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/molen-io/molen/"

// hubOnly are the packages the edge must not link: the hub's storage, its
// HTTP plumbing and composition, its domains and its web application.
var hubOnly = []string{
	"internal/store", "internal/meta", "internal/api", "internal/hub", "internal/web",
	"internal/auth", "internal/fleet", "internal/series", "internal/reports", "internal/ingest", "internal/live", "internal/factory",
}

// simulated are the simulator and the test servers it runs (and the tests
// use): an edge talks to real devices and links none of them.
var simulated = []string{
	"internal/sim", "internal/connector/opcua/opcuatest", "internal/connector/modbus/modbustest",
	"internal/connector/sparkplug/sparkplugtest", "internal/connector/vda5050/vda5050test",
	"internal/connector/mqtt/mqtttest", "internal/connector/mtconnect/mtconnecttest",
	"internal/connector/s7/s7test",
}

// edgeOnly is what neither the edge nor an edge-only build
// (-tags edgeonly) links.
var edgeOnly = append(slices.Clone(hubOnly), simulated...)

// rule says what the packages under a path (and their dependencies) must
// not depend on.
type rule struct {
	pkgs      string   // a package path, or a path/... pattern
	forbidden []string // package paths; each forbids the packages under it too
	why       string
}

var rules = []rule{
	{"internal/uns", []string{"internal"}, "the vocabulary imports nothing of ours"},
	{"internal/connector/...", []string{"internal/hub", "internal/api", "internal/store", "internal/meta"}, "connectors run on the edge"},
	{"internal/edge", edgeOnly, "what an edge does not run, it does not link"},
	{"internal/uplink", hubOnly, "the wire protocol is linked by the edge"},
	{"internal/secret", hubOnly, "the edge makes its credential with it"},
}

// edgeOnlyRules hold for the edge-only build (go build -tags edgeonly
// ./cmd/molen): the binary links the edge's commands and nothing of the
// hub, the simulator or the demo.
var edgeOnlyRules = []rule{
	{"cmd/molen", edgeOnly, "the edge-only build is the edge alone"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// list returns the module's packages, without tests, as a build with tags
// sees them.
func list(t *testing.T, tags ...string) map[string]pkg {
	t.Helper()
	// go test caches a passing result by the files the test reads; go
	// list's reading is not seen. Stat every Go file, so that any change
	// of the sources runs the test again.
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "../.." {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".go") || d.Name() == "go.mod" {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-e", "-tags="+strings.Join(tags, ","), "-json=ImportPath,Imports,Deps", module+"...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// chain returns a shortest import chain from p to dep.
func chain(pkgs map[string]pkg, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var out []string
			for ; cur != ""; cur = prev[cur] {
				out = append(out, strings.TrimPrefix(cur, module))
			}
			slices.Reverse(out)
			return out
		}
		for _, imp := range pkgs[cur].Imports {
			if _, seen := prev[imp]; !seen {
				prev[imp] = cur
				queue = append(queue, imp)
			}
		}
	}
	return nil
}

// violations returns, for each package the rule covers, the forbidden
// packages it depends on, as import chains.
func (r rule) violations(pkgs map[string]pkg) [][]string {
	var out [][]string
	root, all := strings.CutSuffix(r.pkgs, "/...")
	for path, p := range pkgs {
		rel := strings.TrimPrefix(path, module)
		if rel != root && !(all && under(rel, root)) {
			continue
		}
		for _, dep := range p.Deps {
			drel, ok := strings.CutPrefix(dep, module)
			if !ok {
				continue
			}
			for _, f := range r.forbidden {
				if under(drel, f) {
					out = append(out, chain(pkgs, path, dep))
				}
			}
		}
	}
	return out
}

func TestImportRules(t *testing.T) {
	check(t, list(t), rules)
}

func TestEdgeOnlyBuild(t *testing.T) {
	check(t, list(t, "edgeonly"), edgeOnlyRules)
	// Without the tag the binary has the simulator: the rule sees it.
	if v := edgeOnlyRules[0].violations(list(t)); len(v) == 0 {
		t.Error("the full build links no simulator and no hub: the edge-only rule would catch nothing")
	}
}

// otelSDK is OpenTelemetry's SDK and exporters: the edge-only build leaves
// them out (3.6 MB of binary, about 3 MB of resident memory; docs/benchmarks.md)
// unless built with -tags otel too.
var otelSDK = []string{"go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters"}

func TestEdgeOnlyBuildHasNoTraceExporter(t *testing.T) {
	linked := func(tags ...string) []string {
		var out []string
		for _, dep := range list(t, tags...)[module+"cmd/molen"].Deps {
			for _, f := range otelSDK {
				if under(dep, f) {
					out = append(out, dep)
				}
			}
		}
		return out
	}
	if got := linked("edgeonly"); len(got) != 0 {
		t.Errorf("the edge-only build links %v", got)
	}
	if len(linked("edgeonly", "otel")) == 0 {
		t.Error("-tags edgeonly,otel links no OTLP exporter: the rule would catch nothing")
	}
}

func check(t *testing.T, pkgs map[string]pkg, rules []rule) {
	t.Helper()
	for _, r := range rules {
		covered := false
		for path := range pkgs {
			rel := strings.TrimPrefix(path, module)
			if root, all := strings.CutSuffix(r.pkgs, "/..."); rel == root || all && under(rel, root) {
				covered = true
			}
		}
		if !covered {
			t.Errorf("%s: no such package; keep the rules true to the layout", r.pkgs)
		}
		for _, c := range r.violations(pkgs) {
			t.Errorf("%s must not depend on %s (%s): %s", r.pkgs, c[len(c)-1], r.why, strings.Join(c, " → "))
		}
	}
}

// TestRulesCatch checks that the rules see a violation: a made-up edge
// package that reaches the hub's storage through another package.
func TestRulesCatch(t *testing.T) {
	pkgs := map[string]pkg{
		module + "internal/edge":   {ImportPath: module + "internal/edge", Imports: []string{module + "internal/uplink"}, Deps: []string{module + "internal/store", module + "internal/uplink"}},
		module + "internal/uplink": {ImportPath: module + "internal/uplink", Imports: []string{module + "internal/store"}, Deps: []string{module + "internal/store"}},
		module + "internal/store":  {ImportPath: module + "internal/store"},
	}
	v := rule{"internal/edge", hubOnly, ""}.violations(pkgs)
	if len(v) != 1 || strings.Join(v[0], " → ") != "internal/edge → internal/uplink → internal/store" {
		t.Errorf("violations = %v, want the chain edge → uplink → store", v)
	}
}
