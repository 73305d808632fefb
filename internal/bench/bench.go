package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Config says what to measure and how.
type Config struct {
	Scenario string
	Load     Load
	Warmup   time.Duration // load before the window
	Duration time.Duration // the measured window (each step's, for max)
	// SyncInterval is the edge's --buffer-sync-interval (0: fsync before
	// every acknowledgement).
	SyncInterval time.Duration
	// Max searches the highest rate without a growing backlog instead of
	// measuring Load.Rate.
	Max bool

	// Broker is the address (host:port) of an MQTT broker to measure the
	// edge's broker inputs with: the devices publish there, and the edge
	// reads it with an mqtt input (JSON payloads) or a sparkplug input
	// (Sparkplug B) instead of taking the devices on its listener. ""
	// drives the listener.
	Broker string
	// InputInflight is the broker input's max_inflight (0: its default).
	InputInflight int
	// InputVersion is the mqtt input's MQTT version, 3 or 5 (0: its
	// default, 3). With 5 the broker is told max_inflight as the receive
	// maximum; with 3 the broker's own in-flight window bounds QoS 1.
	InputVersion int

	// Services are first-party services (of Services) the started edge
	// runs on the load, each as an install from the marketplace runs: a
	// pipeline of its own over every series. They read machines' tags:
	// with services, Load.Machines must be set. ServicesSrc is the
	// directory of their sources (services/ of a checkout).
	Services    []string
	ServicesSrc string

	// EdgePprof is the address of the started edge's --pprof listener
	// ("" none), to profile it under the load.
	EdgePprof string

	Molen string // the molen binary that runs hub and edge
	// EdgeMolen runs the edge instead ("" Molen): an edge-only build
	// (-tags edgeonly), which cannot run the hub.
	EdgeMolen string
	Dir       string // their data directories and logs; "" a temporary one

	// Running processes to measure instead of starting them: the edge's
	// MQTT and status addresses, the hub's URL and an API token of the
	// edge's organisation. Their CPU comes from their /metrics; peak RSS
	// is the highest resident set seen there.
	EdgeMQTT, EdgeStatus, HubURL, HubToken string
	EdgeDir, HubDir                        string // their data directories, for disk use ("" unknown)

	Log      *slog.Logger
	LogLevel string // of hub and edge; "" warn
}

// Scenarios are the named loads; Rate is each tag's rate in Hz.
var Scenarios = map[string]Config{
	"tiny":   {Load: Load{Devices: 4, Tags: 10, TagsPerMessage: 2, Rate: 5, QoS: 1}, Warmup: time.Second, Duration: 3 * time.Second},
	"small":  {Load: Load{Devices: 10, Tags: 100, TagsPerMessage: 2, Rate: 1, QoS: 1}, Warmup: 5 * time.Second, Duration: 30 * time.Second},
	"medium": {Load: Load{Devices: 100, Tags: 100, TagsPerMessage: 2, Rate: 1, QoS: 1}, Warmup: 5 * time.Second, Duration: 30 * time.Second},
	"large":  {Load: Load{Devices: 100, Tags: 1000, TagsPerMessage: 2, Rate: 1, QoS: 1}, Warmup: 10 * time.Second, Duration: 30 * time.Second},
	"max":    {Load: Load{Devices: 100, Tags: 2, TagsPerMessage: 2, Rate: 10, QoS: 1}, Warmup: 3 * time.Second, Duration: 10 * time.Second, Max: true},
}

// ScenarioNames lists the scenarios in order of size.
var ScenarioNames = []string{"tiny", "small", "medium", "large", "max"}

// Result is what a run measured.
type Result struct {
	Scenario     string  `json:"scenario"`
	Load         Load    `json:"load"`
	SyncInterval string  `json:"sync_interval"`
	Broker       string  `json:"broker,omitempty"` // the devices published there, the edge read it`
	Window       float64 `json:"window_s"`
	Stages       []Stage `json:"stages"`
	// Latency is device → queryable: from the probe topic's device
	// timestamp (ms) to its arrival on the hub's live stream, which
	// publishes a batch once it is committed.
	Latency Latency `json:"latency"`
	// Ack is publish → PUBACK at the device (QoS 1): when the edge has the
	// message on disk per its sync policy.
	Ack       Latency   `json:"ack"`
	Processes []Process `json:"processes"`
	Disk      Disk      `json:"disk"`
	Counts    Counts    `json:"counts"`
	Steps     []Step    `json:"steps,omitempty"` // max: every rate tried
	// Services is what each installed service did over the whole run
	// (warm-up and drain included).
	Services []ServiceCount `json:"services,omitempty"`
}

// Stage is a stage's sustained rate over the window.
type Stage struct {
	Name     string  `json:"name"`
	Messages float64 `json:"messages_per_s,omitempty"`
	Points   float64 `json:"points_per_s"`
}

// Process is a process's cost over the window.
type Process struct {
	Name string `json:"name"`
	// CPU is its user + system time over the window per second: 1 is one
	// core busy.
	CPU float64 `json:"cpu_cores"`
	// MessagesPerCPUSecond is device messages per second of its CPU.
	MessagesPerCPUSecond float64 `json:"messages_per_cpu_s"`
	// PeakRSS is the highest resident set since the process started (with
	// services, their modules' compilation at start included).
	PeakRSS int64 `json:"peak_rss_bytes"`
	// RSS is the resident set at the window's end (0 for the load
	// generator).
	RSS int64 `json:"rss_bytes,omitempty"`
}

// Disk is the disk each side used per point.
type Disk struct {
	// Edge is the outbox's bytes per point buffered (pending bytes over
	// pending points at the window's largest backlog): what an outage
	// costs per point.
	Edge float64 `json:"edge_bytes_per_point"`
	// Hub is the growth of the hub's data directory over the points
	// stored, before the store's later compaction.
	Hub float64 `json:"hub_bytes_per_point"`
}

// Counts are the whole run's totals, taken after the load stopped and the
// edge forwarded everything.
type Counts struct {
	Published       int64 `json:"published_messages"`
	PublishedPoints int64 `json:"published_points"`
	Acked           int64 `json:"acked"`
	Received        int64 `json:"received_messages"`
	Accepted        int64 `json:"accepted_points"`
	Rejected        int64 `json:"rejected_messages"`
	Refused         int64 `json:"refused_messages"`
	Dropped         int64 `json:"dropped_points"` // by the outbox's bound
	// InputDropped is what the broker input lost (QoS 0 past its
	// in-flight bound, Sparkplug seq gaps); with --broker only.
	InputDropped int64 `json:"input_dropped,omitempty"`
	Forwarded    int64 `json:"forwarded_points"`
	Stored       int64 `json:"stored_points"`
	Lost         int64 `json:"lost_points"` // published − stored
}

// Step is one rate the max scenario tried.
type Step struct {
	Offered  float64 `json:"offered_messages_per_s"`
	Sent     float64 `json:"sent_messages_per_s"`
	Stored   float64 `json:"stored_points_per_s"`
	Backlog  float64 `json:"backlog_growth_points"`
	EdgeCPU  float64 `json:"edge_cpu_cores"`
	Latency  Latency `json:"latency"` // device → queryable
	Sustains bool    `json:"sustained"`
}

// stack is the hub and edge under measurement.
type stack struct {
	cfg                  Config
	hub, edge            *child
	hubURL, token        string
	edgeStatus, edgeMQTT string
	hubDir, edgeDir      string
	peakHub, peakEdge    int64  // RSS seen in /metrics, for processes not ours
	root                 string // the run's topic root on a broker (load.root)
	cleanup              func()
}

// Run measures cfg and returns what it saw.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &stack{cfg: cfg}
	defer s.stop()
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s.measure(ctx)
}

func (c Config) logLevel() string {
	if c.LogLevel == "" {
		return "warn"
	}
	return c.LogLevel
}

func (c Config) validate() error {
	l := c.Load
	switch {
	case l.Devices < 1:
		return errors.New("--devices: at least 1")
	case l.Tags < 1 || l.TagsPerMessage < 1:
		return errors.New("--tags and --tags-per-message: at least 1")
	case l.Rate <= 0:
		return errors.New("--rate: must be > 0")
	case l.QoS > 1:
		return errors.New("--qos: 0 or 1")
	case l.Payload != "" && l.Payload != PayloadJSON && l.Payload != PayloadSparkplug:
		return fmt.Errorf("--payload %q: json or sparkplug", l.Payload)
	case l.sparkplug() && c.Broker == "":
		return errors.New("--payload sparkplug needs --broker: the edge's listener takes JSON, Sparkplug B comes through a broker to the sparkplug input")
	case c.InputVersion != 0 && c.InputVersion != 3 && c.InputVersion != 5:
		return errors.New("--input-version: 3 or 5")
	case c.InputVersion == 5 && l.sparkplug():
		return errors.New("--input-version 5: the sparkplug input speaks MQTT 3.1.1")
	case c.Broker != "" && c.EdgeMQTT != "":
		return errors.New("--broker starts an edge with a broker input: not with --edge-mqtt")
	case l.Machines && l.sparkplug():
		return errors.New("--services: the machines' load is JSON (not with --payload sparkplug)")
	case len(c.Services) > 0 && !l.Machines:
		return errors.New("services read machines' tags: set Load.Machines")
	case len(c.Services) > 0 && c.EdgeMQTT != "":
		return errors.New("--services starts an edge with the services: not with --edge-mqtt")
	case c.Duration <= 0:
		return errors.New("--duration: must be > 0")
	case c.EdgeMQTT == "" && c.Molen == "":
		return errors.New("no molen binary to start the edge with")
	case (c.EdgeMQTT == "") != (c.EdgeStatus == ""):
		return errors.New("--edge-mqtt and --edge-status go together")
	case c.EdgeMQTT != "" && c.HubURL == "":
		return errors.New("a running edge needs --hub (its hub) and --hub-token")
	case c.HubURL != "" && c.HubToken == "":
		return errors.New("--hub needs --hub-token (an API token of the edge's organisation)")
	}
	for _, name := range c.Services {
		if _, ok := Services[name]; !ok {
			return fmt.Errorf("--services: %q: want some of %s", name, strings.Join(ServiceNames, ", "))
		}
	}
	return nil
}

func (s *stack) start(ctx context.Context) error {
	cfg := s.cfg
	dir := cfg.Dir
	if dir == "" && (cfg.HubURL == "" || cfg.EdgeMQTT == "") {
		d, err := os.MkdirTemp("", "molen-bench-")
		if err != nil {
			return err
		}
		dir = d
		s.cleanup = func() { os.RemoveAll(d) }
	}
	s.hubURL, s.token, s.hubDir = cfg.HubURL, cfg.HubToken, cfg.HubDir
	if s.hubURL == "" {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		s.hubDir = filepath.Join(dir, "hub")
		if s.hub, err = startChild(cfg.Molen, dir, "hub", "--data", s.hubDir, "--listen", addr, "--log-level", cfg.logLevel()); err != nil {
			return err
		}
		s.hubURL = "http://" + addr
		if err := waitFor(ctx, s.hub, "the hub answers", func() bool { return httpOK(ctx, s.hubURL+"/healthz") }); err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(s.hubDir, "admin-token"))
		if err != nil {
			return fmt.Errorf("the hub's admin token: %w", err)
		}
		s.token = strings.TrimSpace(string(b))
	}
	s.edgeMQTT, s.edgeStatus, s.edgeDir = cfg.EdgeMQTT, cfg.EdgeStatus, cfg.EdgeDir
	if s.edgeMQTT == "" {
		enroll, err := createEdge(ctx, s.hubURL, s.token, "bench")
		if err != nil {
			return err
		}
		if s.edgeMQTT, err = freeAddr(); err != nil {
			return err
		}
		if s.edgeStatus, err = freeAddr(); err != nil {
			return err
		}
		s.edgeDir = filepath.Join(dir, "edge")
		args := []string{"--data", s.edgeDir, "--mqtt-listen", s.edgeMQTT,
			"--status-listen", s.edgeStatus, "--hub", s.hubURL, "--enroll-token", enroll,
			"--buffer-sync-interval", cfg.SyncInterval.String(), "--log-level", cfg.logLevel()}
		if cfg.EdgePprof != "" {
			args = append(args, "--pprof", cfg.EdgePprof)
		}
		if cfg.Broker != "" {
			f := filepath.Join(dir, "inputs.yaml")
			s.root = filepath.Base(dir)
			if err := os.WriteFile(f, inputsFile(cfg, s.root), 0o600); err != nil {
				return err
			}
			args = append(args, "--inputs", f)
		}
		if len(cfg.Services) > 0 {
			f, err := buildServices(ctx, cfg, dir)
			if err != nil {
				return err
			}
			args = append(args, "--pipeline", f)
		}
		if s.edge, err = startChild(cmp.Or(cfg.EdgeMolen, cfg.Molen), dir, "edge", args...); err != nil {
			return err
		}
		// With services the edge compiles their modules before it
		// listens: seconds each, minutes on a busy machine.
		limit := time.Minute
		if len(cfg.Services) > 0 {
			limit = 10 * time.Minute
		}
		if err := waitWithin(ctx, s.edge, "the edge listens", limit, func() bool {
			c, err := net.Dial("tcp", s.edgeMQTT)
			if err == nil {
				c.Close()
			}
			return err == nil && httpOK(ctx, "http://"+s.edgeStatus+"/metrics")
		}); err != nil {
			return err
		}
		if len(cfg.Services) > 0 {
			// The modules are compiled and running before any device
			// publishes.
			var err error
			if werr := waitWithin(ctx, s.edge, "the edge runs the services", limit, func() bool {
				var c []ServiceCount
				c, err = serviceCounts(ctx, s.edgeStatus, cfg.Services)
				return err != nil || len(c) == len(cfg.Services)
			}); werr != nil {
				return werr
			}
			if err != nil {
				return err
			}
		}
		if cfg.Broker != "" {
			// The input subscribes before any device publishes.
			if err := waitFor(ctx, s.edge, "the edge's input is connected to "+cfg.Broker, func() bool {
				m, err := scrape(ctx, "http://"+s.edgeStatus+"/metrics")
				return err == nil && m["molen_edge_input_connected"] == 1
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *stack) stop() {
	errs := errors.Join(s.edge.stop(), s.hub.stop())
	if errs != nil {
		s.cfg.Log.Warn("stopping hub and edge", "err", errs)
	}
	if s.cleanup != nil {
		s.cleanup()
	}
}

// snapshot is the counters at one moment.
type snapshot struct {
	at          time.Time
	edge, hub   metrics
	sent, acked int64
	self        time.Duration // the bench's own CPU
}

func (s *stack) snap(ctx context.Context, l *load) (snapshot, error) {
	e, err := scrape(ctx, "http://"+s.edgeStatus+"/metrics")
	if err != nil {
		return snapshot{}, err
	}
	h, err := scrape(ctx, s.hubURL+"/metrics")
	if err != nil {
		return snapshot{}, err
	}
	s.peakEdge = max(s.peakEdge, int64(e["process_resident_memory_bytes"]))
	s.peakHub = max(s.peakHub, int64(h["process_resident_memory_bytes"]))
	return snapshot{at: time.Now(), edge: e, hub: h, sent: l.sent.Load(), acked: l.acked.Load(), self: selfCPU()}, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// inputsFile is the edge's inputs file for a run through cfg.Broker: one
// input subscribed to what the devices publish under the run's topic root
// (id; a Sparkplug group for sparkplug), mapped onto the same paths as on
// the listener (bench/d0000/m000/…), with a client id of this run and a
// clean session, so that nothing of an earlier or another run arrives.
func inputsFile(cfg Config, id string) []byte {
	var b strings.Builder
	l := cfg.Load
	inflight := ""
	if cfg.InputInflight > 0 {
		inflight = fmt.Sprintf("      max_inflight: %d\n", cfg.InputInflight)
	}
	if cfg.InputVersion > 0 && !l.sparkplug() {
		inflight += fmt.Sprintf("      version: %d\n", cfg.InputVersion)
	}
	kind, subs := "mqtt", fmt.Sprintf("      subscriptions:\n        - topic: %s/%s/#\n          qos: %d\n          path: \"{2+}\"\n", id, Prefix, l.QoS)
	if l.sparkplug() {
		kind = "sparkplug"
		subs = fmt.Sprintf("      groups:\n        - group: %s\n          qos: %d\n          path: %s/{edge_node}/{metric}\n", id, l.QoS, Prefix)
	}
	fmt.Fprintf(&b, "inputs:\n  - %s:\n      url: tcp://%s\n      client_id: %s\n      clean_session: true\n%s%s", kind, cfg.Broker, id, inflight, subs)
	return []byte(b.String())
}
