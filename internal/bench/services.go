package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/molen-io/molen/internal/service"
)

// Services are the first-party services (services/<name> of a checkout)
// the bench can run on its machines' data, with the parameters of their
// installs: SPC learns each series' centre line from its first 30 points,
// OEE and energy close a window every minute.
var Services = map[string]map[string]any{
	"spc":    {"baseline": 30},
	"oee":    {"window_min": 1},
	"energy": {"window_min": 1},
}

// ServiceNames lists Services in order.
var ServiceNames = []string{"spc", "oee", "energy"}

// ServiceCount is what one installed service did over the run, from the
// edge's status (its pipeline's service stage).
type ServiceCount struct {
	Name      string  `json:"name"`   // the install's, as the bench named it
	ID        string  `json:"id"`     // the service's (molen-spc)
	In        uint64  `json:"in"`     // points given to the module
	Out       uint64  `json:"out"`    // points it emitted
	Events    uint64  `json:"events"` // events it emitted
	Calls     uint64  `json:"calls"`
	Failures  uint64  `json:"failures"`
	PassedOn  uint64  `json:"passed_on"`  // points of failed calls passed on unchanged
	MemoryMiB float64 `json:"memory_mib"` // its linear memory at the end
}

// installPipeline is the pipeline name of an install, as the edge names
// an install from the hub's marketplace.
func installPipeline(name string) string { return "service-" + name }

// buildServices builds the first-party services cfg.Services names from
// src (services/ of a checkout) into dir, as the demo builds them for its
// marketplace, and returns the edge's pipeline file: each service as an
// install from the marketplace runs it, a pipeline of its own
// (service-<name>) over every series of the bench's machines with output
// drop (as the demo's SPC install: its events reach the hub, its points
// not), its state in a file; and a pipeline that forwards the devices'
// points once.
func buildServices(ctx context.Context, cfg Config, dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(cfg.ServicesSrc, cfg.Services[0], service.ManifestFile)); err != nil {
		return "", fmt.Errorf("--services: the first-party services' source is not here (%s/: run molen bench in a checkout of molen): %w", cfg.ServicesSrc, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pipelines:\n  - name: forward\n    match: %q\n    stages: []\n", Prefix+"/#")
	for _, name := range cfg.Services {
		pkg, err := service.BuildInto(ctx, filepath.Join(cfg.ServicesSrc, name), filepath.Join(dir, "services", name))
		if err != nil {
			return "", fmt.Errorf("--services: build %s: %w", name, err)
		}
		params, _ := json.Marshal(Services[name])
		fmt.Fprintf(&b, "  - name: %s\n    match: %q\n    output: drop\n    stages:\n      - service:\n          package: %q\n          params: %s\n          state: %q\n",
			installPipeline(name), Prefix+"/#", pkg.Dir, params, filepath.Join(dir, "services", "state", name+".state"))
	}
	f := filepath.Join(dir, "pipeline.yaml")
	return f, os.WriteFile(f, []byte(b.String()), 0o600)
}

// serviceCounts reads the counters of the bench's installs from the
// edge's status; a service whose pipeline is not (yet) running is missing.
func serviceCounts(ctx context.Context, statusAddr string, names []string) ([]ServiceCount, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+statusAddr+"/api/v1/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the edge's status: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the edge's status: %s", resp.Status)
	}
	var st struct {
		Pipeline *struct {
			LoadError string `json:"load_error"`
			Stats     struct {
				Pipelines []struct {
					Name   string `json:"name"`
					Stages []struct {
						Detail *service.Report `json:"detail"`
					} `json:"stages"`
				} `json:"pipelines"`
			} `json:"stats"`
		} `json:"pipeline"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("the edge's status: %w", err)
	}
	if st.Pipeline == nil {
		return nil, nil
	}
	if st.Pipeline.LoadError != "" {
		return nil, fmt.Errorf("the edge's pipeline with the services: %s", st.Pipeline.LoadError)
	}
	var out []ServiceCount
	for _, p := range st.Pipeline.Stats.Pipelines {
		name, ok := strings.CutPrefix(p.Name, installPipeline(""))
		if !ok || !slices.Contains(names, name) || len(p.Stages) == 0 || p.Stages[0].Detail == nil {
			continue
		}
		r := p.Stages[0].Detail
		out = append(out, ServiceCount{Name: name, ID: r.ID, In: r.Stats.In, Out: r.Stats.Out, Events: r.Stats.Events,
			Calls: r.Stats.Calls, Failures: r.Stats.Failures, PassedOn: r.Stats.PassedOn, MemoryMiB: r.Stats.MemoryMiB})
	}
	return out, nil
}
