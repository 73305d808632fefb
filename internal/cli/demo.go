//go:build !edgeonly

package cli

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/sign"
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
	// History is how many days of the past a first start back-fills
	// (demohistory.go); 0 none.
	History int
	// Programme makes a first start fill the programme nationally (five
	// hubs, fifty fieldlabs, 3,500 companies, 10,000 assessments) rather
	// than with a few dozen companies (demonetwork.go).
	Programme bool
	// OPCUAListen is where the edge's OPC UA server output listens
	// (docs/outputs.md); "" a free port on 127.0.0.1. molen demo asks for
	// 127.0.0.1:4841 and takes a free port when that one is taken.
	OPCUAListen string
	// Replicas runs the hub as that many replicas (3 or more) of a
	// cluster in this process (democluster.go); 0 or 1: one hub.
	Replicas int
	// Store and StoreSchema are the hub's PostgreSQL (hub.Config); a
	// cluster needs it.
	Store, StoreSchema string
}

func newDemo(g *globals) *cobra.Command {
	var cfg DemoConfig
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run hub, edge and a simulated factory together, with zero configuration",
		Long: `Run a complete molen in one process: a hub (API and web UI on --listen), an
edge enrolled at it, and a simulated factory. Open the printed URL to watch
live data.

Each simulated machine reaches the edge over one protocol: two publish MQTT to
the edge's listener, and the edge reads the others with its connector inputs
(written to <data>/edge/inputs.yaml): the packaging machine over Modbus TCP,
the compressor over OPC UA, a robot cell over Sparkplug B and an AGV over
VDA 5050 (docs/sim.md).

A first start (an empty --data) also back-fills --history days of the same
simulated factory in the background, one sample per machine every 10 s,
through the demo pipeline into the hub: OEE, states, downtimes (two thirds
with a reason) and charts of the past week are there from the start.

The hub holds a programme: five regional hubs with fifty fieldlabs in a public
catalogue (/#/catalogue, no sign-in), the demo's three companies and 37
synthetic ones as the hubs' customers, with services, assessments and KPIs;
--programme fills it nationally instead (3,500 companies, 10,000 assessments)
on a first start (docs/programme.md).

The edge republishes its processed data to the simulator's MQTT broker (uns/#)
and serves it as an OPC UA server on --opcua (a free port when that is taken;
printed at start; docs/outputs.md).

The edge's MQTT and status listeners use free ports on 127.0.0.1, so the demo
does not collide with services already running. All data lives under --data;
running the demo again continues with the same data (the time it was
stopped stays a gap). Stop it with Ctrl-C.

--replicas 3 runs the hub as three replicas of a cluster (docs/cluster.md):
each with an embedded NATS node of one JetStream cluster (the uplink stream
kept on all three), sharing the PostgreSQL of --store (or $MOLEN_STORE),
each on its own address (--listen and the next ports). The edge is given
every replica's address; type a replica's number and Enter to stop it (and
again to start it) and watch the data keep flowing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if cfg.Store == "" {
				cfg.Store = os.Getenv(envName("store"))
			}
			d, err := StartDemo(cmd.Context(), cfg, g)
			if err != nil {
				return err
			}
			if len(d.Replicas) > 1 {
				go d.controlReplicas(cmd.Context(), cmd.InOrStdin(), g.stdout)
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
	f.IntVar(&cfg.History, "history", DefaultHistoryDays, historyHelp)
	f.StringVar(&cfg.OPCUAListen, "opcua", DemoOPCUAListen, "address of the edge's OPC UA server output (a free port when this one is taken)")
	f.IntVar(&cfg.Replicas, "replicas", 1, "run the hub as this many replicas of a cluster (3 or more; needs --store)")
	f.StringVar(&cfg.Store, "store", "", "the hub's PostgreSQL, postgres://user@host:5432/db (better: $MOLEN_STORE, which keeps the password out of the process list); default the embedded database in --data")
	f.StringVar(&cfg.StoreSchema, "store-schema", "", "its schema (default molen)")
	f.BoolVar(&cfg.Programme, "programme", false, "on a first start, fill the programme nationally: 3,500 synthetic companies with 10,000 assessments and 200,000 people trained at the academy (35–75 s) instead of 40 companies and 600 people")
	return cmd
}

// Demo is a running demo.
type Demo struct {
	Hub  *hub.Hub
	Edge *edge.Edge
	Sim  *sim.Sim // the machines publishing over MQTT to the edge
	// Served are the machines the edge reads with its connector inputs:
	// Modbus TCP, OPC UA, Sparkplug B and VDA 5050.
	Served *sim.Server

	stopSim, stopServed context.CancelFunc
	simDone, servedDone chan error
	stopRollout         context.CancelFunc
	rolloutDone         chan struct{} // closed when demoRollout returned
	marketDone          chan struct{} // closed when seedDemoMarket returned
	history             *history
	// Notify are the demo's mail server and Teams channel: receivers in
	// its own process.
	Notify *demoNotify

	// Replicas are the hub's replicas (Hub is the first; one without
	// --replicas); a stopped one is nil.
	Replicas    []*hub.Hub
	replicaCfgs []hub.Config
	replicaURLs []string
	replicaMu   sync.Mutex // guards Replicas and closed
	closed      bool
}

// Machines returns the asset paths of every simulated machine, whatever
// protocol it speaks (the AGV is a vehicle: Served.AGV).
func (d *Demo) Machines() []string {
	return append(d.Sim.Machines(), d.Served.Machines()...)
}

// StartDemo starts hub, edge and simulator and prints where to look.
func StartDemo(ctx context.Context, cfg DemoConfig, g *globals) (*Demo, error) {
	log, err := g.logger()
	if err != nil {
		return nil, err
	}
	if err := checkHistory(cfg.History); err != nil {
		return nil, err
	}
	if err := cfg.checkReplicas(); err != nil {
		return nil, err
	}
	sinks, err := startDemoNotify()
	if err != nil {
		return nil, err
	}
	// The demo's release key signs the demo's own binary as a release
	// (Fleet → Software); it lives as long as the run.
	releasePub, releaseKey, err := sign.GenerateKey()
	if err != nil {
		return nil, err
	}
	hubs, hubCfgs, err := startDemoHubs(ctx, cfg, hub.Config{
		ReleaseKeys: []ed25519.PublicKey{releasePub},
		DataDir:     filepath.Join(cfg.DataDir, "hub"),
		Store:       cfg.Store,
		StoreSchema: cfg.StoreSchema,
		Listen:      cfg.Listen,
		Log:         log.With("component", "hub"),
		Out:         g.stdout,
		SMTP:        sinks.smtp(),
		// The demo's webhook receiver is on this machine.
		NotifyPrivateTargets: true,
	})
	if err != nil {
		sinks.Close()
		return nil, err
	}
	h := hubs[0]
	d := &Demo{Hub: h, Notify: sinks, simDone: make(chan error, 1), servedDone: make(chan error, 1),
		Replicas: hubs, replicaCfgs: hubCfgs}
	for _, r := range hubs {
		d.replicaURLs = append(d.replicaURLs, r.URL())
	}
	if err := seedRelease(ctx, h, releaseKey); err != nil {
		log.Warn("the demo's release is not listed", "err", err)
	}
	edgeDir := filepath.Join(cfg.DataDir, "edge")
	// The machines that speak industrial protocols listen first, so that
	// the edge's inputs file can name their addresses.
	serveCfg := sim.ServeConfig{
		Seed: cfg.Seed, Rate: cfg.Rate, Log: log.With("component", "sim"),
		Modbus: "127.0.0.1:0", OPCUA: "127.0.0.1:0", Sparkplug: "127.0.0.1:0", VDA5050: "127.0.0.1:0",
		Drop: filepath.Join(cfg.DataDir, "drop", sim.LeakTester),
	}
	if d.Served, err = sim.Serve(serveCfg); err != nil {
		d.closeReplicas()
		sinks.Close()
		return nil, err
	}
	fail := func(err error) (*Demo, error) {
		d.history.stop()
		d.Served.Close()
		d.closeReplicas()
		sinks.Close()
		return nil, err
	}
	inputsFile, err := writeDemoFile(edgeDir, "inputs.yaml", d.Served.Inputs())
	if err != nil {
		return fail(err)
	}
	var edgeID, token string
	if _, err := os.Stat(filepath.Join(edgeDir, "credential.json")); errors.Is(err, os.ErrNotExist) {
		if edgeID, token, err = h.CreateEdge(ctx, "demo-edge"); err != nil {
			return fail(err)
		}
	}
	// The demo's people exist before the history names who explained its
	// downtimes.
	hubDir := filepath.Join(cfg.DataDir, "hub")
	link, err := seedProgramme(ctx, h, hubDir, cfg.Programme)
	if err != nil {
		return fail(err)
	}
	if err := sinks.seed(ctx, h); err != nil {
		return fail(fmt.Errorf("demo notifications: %w", err))
	}
	if edgeID != "" {
		// Only a first start (a new edge) back-fills, up to now: before
		// the edge's first live point.
		if d.history, err = startHistory(ctx, h, edgeID, cfg, log.With("component", "history")); err != nil {
			return fail(err)
		}
	}
	// The edge republishes its UNS (after its pipeline) to the simulated
	// plant's broker, as a factory's edge feeds the plant's own UNS
	// (docs/outputs.md): subscribe to uns/# there to see it. And it serves
	// the UNS's latest values as an OPC UA server, for an MES or SCADA
	// client to browse.
	outputs := "outputs:\n"
	if addr := d.Served.Addrs().Sparkplug; addr != "" {
		outputs += fmt.Sprintf("  - mqtt: {url: tcp://%s, topic_prefix: uns/, retain: true, qos: 1}\n", addr)
	}
	opcua := "127.0.0.1:0"
	if cfg.OPCUAListen != "" {
		opcua = freeListen(cfg.OPCUAListen)
	}
	outputs += fmt.Sprintf("  - opcua: {listen: %q, security: none}\n", opcua)
	outputsFile, err := writeDemoFile(edgeDir, "outputs.yaml", []byte(outputs))
	if err != nil {
		return fail(err)
	}
	pipelineFile := cfg.PipelineFile
	if pipelineFile == "" {
		if pipelineFile, err = writeDemoFile(edgeDir, "pipeline.yaml", []byte(demoPipeline(cfg.Rate))); err != nil {
			return fail(err)
		}
	}
	d.Edge, err = edge.Start(ctx, edge.Config{
		PipelineFile: pipelineFile,
		DataDir:      edgeDir,
		MQTTListen:   "127.0.0.1:0",
		StatusListen: "127.0.0.1:0",
		InputsFile:   inputsFile,
		OutputsFile:  outputsFile,
		HubURL:       edgeHubURL(hubs),
		EnrollToken:  token,
		ManifestPoll: 2 * time.Second,
		MarketKeys:   []ed25519.PublicKey{h.Market().PublicKey()},
		Version:      Version(),
		Log:          log.With("component", "edge"),
	})
	if err != nil {
		return fail(err)
	}
	if cfg.PipelineFile == "" {
		// The hub's desired state takes over the edge's configuration
		// (docs/fleet.md); the local files are what it starts with.
		if err := seedDemoFleet(ctx, h, d.Edge, cfg.Rate, d.Served.Inputs()); err != nil {
			d.Edge.Close()
			return fail(err)
		}
	}
	d.Sim, err = sim.New(sim.Config{
		Broker: d.Edge.MQTTAddr(), Seed: cfg.Seed, Rate: cfg.Rate,
		Machines: serveCfg.MQTTMachines(), Log: log.With("component", "sim"),
	})
	if err != nil {
		d.Edge.Close()
		return fail(err)
	}
	simCtx, stopSim := context.WithCancel(context.WithoutCancel(ctx))
	servedCtx, stopServed := context.WithCancel(context.WithoutCancel(ctx))
	d.stopSim, d.stopServed = stopSim, stopServed
	go func() { d.simDone <- d.Sim.Run(simCtx) }()
	go func() { d.servedDone <- d.Served.Run(servedCtx) }()
	rctx, stopRollout := context.WithCancel(context.WithoutCancel(ctx))
	d.stopRollout, d.rolloutDone = stopRollout, make(chan struct{})
	d.marketDone = make(chan struct{})
	go func() {
		// molen's first-party services in the marketplace, SPC installed
		// on the demo edge: built in the background, as building eight
		// modules takes minutes on a first run (the go build cache makes
		// later starts fast); each appears in the catalogue when ready.
		defer close(d.marketDone)
		if cfg.PipelineFile == "" {
			if err := seedDemoMarket(rctx, h, edgeID, filepath.Join(cfg.DataDir, "market"), log.With("component", "demo")); err != nil && rctx.Err() == nil {
				log.Warn("the demo's marketplace is incomplete", "err", err)
			}
		}
	}()
	go func() {
		defer close(d.rolloutDone)
		if cfg.PipelineFile == "" {
			demoRollout(rctx, h, log.With("component", "demo"))
		}
	}()

	a := d.Served.Addrs()
	admin, err := h.AdminToken()
	if err != nil {
		d.Close()
		return nil, err
	}
	fmt.Fprintf(g.stdout, `molen demo is running.

  sign in    %s
             (one use, 24 h: %s, platform admin and owner of the simulated factory)
  web UI     %s/#token=%s
  API        %s/api/v1/   (Authorization: Bearer <token in %s>)
  edge       MQTT %s, status http://%s/api/v1/status
             OPC UA server %s (security None, anonymous: browse
             Objects/UNS with UaExpert or any OPC UA client; docs/outputs.md)
  pipeline   %s
  inputs     %s
             (the edge starts with these files; the hub's desired state then runs
             instead: Fleet → Desired state in the web UI, docs/fleet.md)
  data       %s

The simulated factory, each machine over one protocol (docs/sim.md):
  MQTT         cnc-mill, injection-press  to the edge's MQTT listener
  Modbus TCP   packaging                  tcp://%s
  OPC UA       compressor                 opc.tcp://%s
  Sparkplug B  robot-cell                 tcp://%s (the simulator's broker)
  VDA 5050     AGV %-22s tcp://%s (a card without state)
  CSV files    leak-tester                %s (the edge's files input)

The programme: two regional hubs, a fieldlab, three companies (the
simulated factory is %s), a service provider, and these people
(their passwords are in %s):
`, link, DemoAdmin, h.URL(), admin, h.URL(), filepath.Join(cfg.DataDir, "hub", hub.AdminTokenFile),
		d.Edge.MQTTAddr(), d.Edge.StatusAddr(), d.OPCUA(), pipelineFile, inputsFile, cfg.DataDir,
		a.Modbus, a.OPCUA, a.Sparkplug, sim.AGVManufacturer+"-"+sim.AGVSerial, a.VDA5050, serveCfg.Drop,
		demoFactoryName, filepath.Join(hubDir, DemoPeopleFile))
	printPeople(tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0))
	d.printReplicas(g.stdout, cmp.Or(cfg.StoreSchema, "molen"))
	fmt.Fprintln(g.stdout, "\nDigital maturity (EU DMA): each company has a T0 assessment, the factory a T1 too\n(GET /api/v1/assessments and /api/v1/assessments/comparison; docs/programme.md).")
	fmt.Fprintf(g.stdout, "\nNotifications: the compressor's alarms go by e-mail and to a Teams channel, a machine down\nfor 15 minutes by e-mail. The demo has no mail server and no Teams: an SMTP server (%s)\nand a webhook receiver (%s) in this process take them; see Notifications → Delivery log.\n",
		sinks.Mail.Addr(), sinks.url)
	fmt.Fprintln(g.stdout, "\nPress Ctrl-C to stop.")
	return d, nil
}

// DemoOPCUAListen is the address molen demo asks for its edge's OPC UA
// server: next to the standard 4840, which a plant's own server may hold.
const DemoOPCUAListen = "127.0.0.1:4841"

// freeListen is listen if it is free (or names port 0), else a free port
// on its host.
func freeListen(listen string) string {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		host, _, _ := net.SplitHostPort(listen)
		return net.JoinHostPort(host, "0")
	}
	l.Close()
	return listen
}

// OPCUA is the endpoint URL of the edge's OPC UA server output.
func (d *Demo) OPCUA() string {
	for _, o := range d.Edge.Status().Outputs {
		if o.Kind == "opcua" {
			return o.Target
		}
	}
	return ""
}

// Close stops the MQTT machines (waiting for their messages to be
// acknowledged), then the edge, then the machines it read with its inputs
// (devices outlive the edge: its inputs close their sessions with peers that
// still answer), then the hub.
func (d *Demo) Close() error {
	d.history.stop()
	d.stopRollout()
	<-d.rolloutDone
	<-d.marketDone
	d.stopSim()
	simErr := <-d.simDone
	edgeErr := d.Edge.Close()
	d.stopServed()
	return errors.Join(simErr, edgeErr, <-d.servedDone, d.closeReplicas(), d.Notify.Close())
}

// writeDemoFile writes one of the edge's demo files into its data directory
// and returns its path.
func writeDemoFile(edgeDir, name string, data []byte) (string, error) {
	if err := os.MkdirAll(edgeDir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(edgeDir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("write demo %s: %w", name, err)
	}
	return path, nil
}
