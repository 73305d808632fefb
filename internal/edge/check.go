package edge

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/output"
	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uplink"
)

// Plan is what an edge started with a config would run, as Check finds it.
type Plan struct {
	Hub       string   // the hub it forwards to
	EdgeID    string   // its identity there; empty until enrolled
	Inputs    []string // "inputs[0] modbus tcp://10.0.0.5:502"
	Outputs   []string // "outputs[0] mqtt (mqtt) tcp://broker:1883"
	Pipelines []string // "production: 4 stages → forward"
	Warnings  []string // of the pipeline file (pipeline.Definition.Warnings)
}

// Check validates cfg as Start would, without starting anything or writing
// to the data directory: the settings, whether the edge is enrolled or can
// enroll, the inputs file (each input is built, so certificates and keys
// are read) and the pipeline file (each operator is built). It returns
// the plan and every problem found, joined.
func Check(cfg Config) (Plan, error) {
	var p Plan
	if err := cfg.Validate(); err != nil {
		return p, err
	}
	var errs []error
	cred, err := cfg.enrollment()
	if err != nil {
		errs = append(errs, err)
	}
	p.Hub, p.EdgeID = cred.Hub, cred.EdgeID
	if cfg.HubURL != "" {
		p.Hub = cfg.HubURL
	}
	if cfg.InputsFile != "" {
		conf, err := connector.LoadInputs(cfg.InputsFile)
		if err != nil {
			errs = append(errs, err)
		}
		for _, c := range conf {
			in, err := c.Build(slog.New(slog.DiscardHandler))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			p.Inputs = append(p.Inputs, c.Path+" "+c.Kind+" "+in.Status().Peer)
		}
	}
	if cfg.OutputsFile != "" {
		conf, err := output.Load(cfg.OutputsFile)
		if err != nil {
			errs = append(errs, err)
		}
		for _, c := range conf {
			sink, err := c.Build(slog.New(slog.DiscardHandler))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			p.Outputs = append(p.Outputs, c.Path+" "+c.Name+" ("+c.Kind+") "+sink.Target())
		}
	}
	if cfg.PipelineFile != "" {
		def, err := pipeline.Load(cfg.PipelineFile)
		if err == nil {
			_, err = pipeline.NewRunner(def, pipeline.Options{})
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			for _, pl := range def.Pipelines {
				stages := "stages"
				if len(pl.Stages) == 1 {
					stages = "stage"
				}
				p.Pipelines = append(p.Pipelines, fmt.Sprintf("%s: %d %s → %s", pl.Name, len(pl.Stages), stages, pl.Output))
			}
			p.Warnings = def.Warnings()
		}
	}
	return p, errors.Join(errs...)
}

// enrollment returns the stored credential (its Credential field cleared)
// and an error if the edge, with cfg, could never forward: it is not
// enrolled and has no hub or no token to enroll with.
func (c Config) enrollment() (credential, error) {
	cred, ok, err := loadCredential(c.DataDir)
	cred = cred.public()
	switch {
	case err != nil:
		return credential{}, err
	case ok && !cred.Pending:
		return cred, nil
	case c.HubURL == "":
		return cred, errors.New("no hub: this edge is not enrolled yet; start it with --hub URL and --enroll-token TOKEN (create the token on the hub: POST /api/v1/edges)")
	case c.EnrollToken == "" && ok:
		return cred, fmt.Errorf("enrollment at %s was interrupted: start the edge again with the same --enroll-token", c.HubURL)
	case c.EnrollToken == "":
		return cred, fmt.Errorf("this edge is not enrolled at %s yet: start it once with --enroll-token (create one on the hub: POST /api/v1/edges)", c.HubURL)
	}
	return cred, nil
}

// validateHubURL checks that list is a hub's base URL, or several
// separated by commas (replicas of a hub cluster, which the edge fails
// over between).
func validateHubURL(list string) error {
	urls := uplink.HubURLs(list)
	if len(urls) == 0 {
		return fmt.Errorf("--hub %q names no hub", list)
	}
	for _, u := range urls {
		if err := validateOneHubURL(u); err != nil {
			return err
		}
	}
	return nil
}

func validateOneHubURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("--hub %q is not a URL: %v", u, err)
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return fmt.Errorf("--hub %q: want an http:// or https:// URL, like http://hub.example:8080", u)
	}
	if p.Host == "" || p.Hostname() == "" {
		return fmt.Errorf("--hub %q names no host", u)
	}
	if p.RawQuery != "" || p.Fragment != "" {
		return fmt.Errorf("--hub %q: want the hub's base URL, without query or fragment", u)
	}
	return nil
}
