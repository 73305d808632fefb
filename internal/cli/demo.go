package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/sim"
)

// DemoConfig configures a demo: hub, edge and simulator in one process.
type DemoConfig struct {
	DataDir string
	Listen  string
	Seed    int64
	Rate    float64
	// PipelineFile replaces the demo's own pipeline (written to
	// <data>/edge/pipeline.yaml at every start).
	PipelineFile string
}

func newDemo(g *globals) *cobra.Command {
	var cfg DemoConfig
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run hub, edge and a simulated factory together, with zero configuration",
		Long: `Run a complete molen in one process: a hub (API and web UI on --listen), an
edge enrolled at it, and a simulated factory publishing to the edge. Open the
printed URL to watch live data.

The edge's MQTT and status listeners use free ports on 127.0.0.1, so the demo
does not collide with services already running. All data lives under --data;
running the demo again continues with the same data. Stop it with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			d, err := StartDemo(cmd.Context(), cfg, g)
			if err != nil {
				return err
			}
			<-cmd.Context().Done()
			log.Info("stopping demo")
			return d.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", hub.DefaultListen, "address of the web UI and API")
	f.StringVar(&cfg.DataDir, "data", "molen-data", "data directory (hub/ and edge/ inside)")
	f.Int64Var(&cfg.Seed, "seed", 1, "seed of the simulated factory")
	f.Float64Var(&cfg.Rate, "rate", 5, "ticks per second per simulated machine (each tick is one simulated second)")
	f.StringVar(&cfg.PipelineFile, "pipeline", "", "edge pipeline to run instead of the demo's own (written to <data>/edge/pipeline.yaml)")
	return cmd
}

// Demo is a running demo.
type Demo struct {
	Hub     *hub.Hub
	Edge    *edge.Edge
	Sim     *sim.Sim
	cancel  context.CancelFunc
	simDone chan error
}

// StartDemo starts hub, edge and simulator and prints where to look.
func StartDemo(ctx context.Context, cfg DemoConfig, g *globals) (*Demo, error) {
	log, err := g.logger()
	if err != nil {
		return nil, err
	}
	h, err := hub.Start(ctx, hub.Config{
		DataDir: filepath.Join(cfg.DataDir, "hub"),
		Listen:  cfg.Listen,
		Log:     log.With("component", "hub"),
		Out:     g.stdout,
	})
	if err != nil {
		return nil, err
	}
	d := &Demo{Hub: h, simDone: make(chan error, 1)}
	edgeDir := filepath.Join(cfg.DataDir, "edge")
	var token string
	if _, err := os.Stat(filepath.Join(edgeDir, "credential.json")); errors.Is(err, os.ErrNotExist) {
		if _, token, err = h.CreateEdge(ctx, "demo-edge"); err != nil {
			h.Close()
			return nil, err
		}
	}
	pipelineFile := cfg.PipelineFile
	if pipelineFile == "" {
		if pipelineFile, err = writeDemoPipeline(edgeDir, cfg.Rate); err != nil {
			h.Close()
			return nil, err
		}
	}
	d.Edge, err = edge.Start(ctx, edge.Config{
		PipelineFile: pipelineFile,
		DataDir:      edgeDir,
		MQTTListen:   "127.0.0.1:0",
		StatusListen: "127.0.0.1:0",
		HubURL:       h.URL(),
		EnrollToken:  token,
		Log:          log.With("component", "edge"),
	})
	if err != nil {
		h.Close()
		return nil, err
	}
	d.Sim, err = sim.New(sim.Config{Broker: d.Edge.MQTTAddr(), Seed: cfg.Seed, Rate: cfg.Rate, Log: log.With("component", "sim")})
	if err != nil {
		d.Edge.Close()
		h.Close()
		return nil, err
	}
	simCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	go func() { d.simDone <- d.Sim.Run(simCtx) }()

	admin, err := h.AdminToken()
	if err != nil {
		d.Close()
		return nil, err
	}
	fmt.Fprintf(g.stdout, `molen demo is running.

  web UI     %s/#token=%s
  API        %s/api/v1/   (Authorization: Bearer <token in %s>)
  edge       MQTT %s, status http://%s/api/v1/status
  pipeline   %s (edit it while the demo runs: the edge reloads it)
  data       %s

Press Ctrl-C to stop.
`, h.URL(), admin, h.URL(), filepath.Join(cfg.DataDir, "hub", hub.AdminTokenFile),
		d.Edge.MQTTAddr(), d.Edge.StatusAddr(), pipelineFile, cfg.DataDir)
	return d, nil
}

// Close stops the simulator (waiting for its messages to be acknowledged),
// then the edge, then the hub.
func (d *Demo) Close() error {
	d.cancel()
	simErr := <-d.simDone
	return errors.Join(simErr, d.Edge.Close(), d.Hub.Close())
}
