package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/outbox"
)

// outboxFlags are the buffer settings shared by edge and demo.
type outboxFlags struct {
	maxBytes     int64
	maxAge       time.Duration
	full         string
	syncInterval time.Duration
}

func (o *outboxFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.Int64Var(&o.maxBytes, "buffer-max-bytes", 1<<30, "bound on the local buffer (outbox) on disk, in bytes")
	f.DurationVar(&o.maxAge, "buffer-max-age", 0, "drop buffered data older than this (0: no limit)")
	f.StringVar(&o.full, "buffer-full", "drop-oldest", "when the buffer is full: drop-oldest (counted) or reject-new (devices are not acknowledged and retry)")
	f.DurationVar(&o.syncInterval, "buffer-sync-interval", 0, "0: fsync before acknowledging devices (no loss on power failure); >0: fsync this often (loss window on power failure)")
}

func (o *outboxFlags) options() (outbox.Options, error) {
	opts := outbox.Options{MaxBytes: o.maxBytes, MaxAge: o.maxAge, SyncInterval: o.syncInterval}
	switch o.full {
	case "drop-oldest":
		opts.Full = outbox.DropOldest
	case "reject-new":
		opts.Full = outbox.RejectNew
	default:
		return opts, fmt.Errorf("--buffer-full %q: want drop-oldest or reject-new", o.full)
	}
	if o.maxBytes <= 0 {
		return opts, fmt.Errorf("--buffer-max-bytes: must be > 0")
	}
	return opts, nil
}

func newEdge(g *globals) *cobra.Command {
	var cfg edge.Config
	var otelEndpoint string
	var ob outboxFlags
	var check, supervise bool
	var hubCA string
	var releaseKeys, marketKeys []string
	var trial time.Duration
	var startPprof func(context.Context, *slog.Logger) error
	cmd := &cobra.Command{
		Use:   "edge",
		Short: "Run a molen edge: MQTT listener for devices, local buffer, forwarding to a hub",
		Long: `Run a molen edge next to the machines.

Devices publish to its MQTT listener (--mqtt-listen) on UNS topics
site/area/line/machine/tag with JSON payloads. The edge acknowledges a QoS 1
publish only once its points are on disk, then forwards them to the hub and
deletes them locally only after the hub has stored them.

It can also read PLCs, OPC UA servers and other brokers (--inputs, see
docs/connectors.md) and process data before it leaves (--pipeline, see
docs/pipelines.md; the file is reloaded when it changes).

First start: pass --hub and a one-time --enroll-token created on the hub; the
edge makes its own Ed25519 key, registers the public key at the hub, keeps the
key in <data>/credential.json and signs every request to the hub with it; it
needs no token afterwards. An edge enrolled with a bearer credential (before
edge keys) registers a key at its next start. --hub-pin accepts only a hub
whose certificate has the pinned key. "molen edge rotate-key" gives a running
edge a new key. Status: http://<status-listen>/api/v1/status, /api/v1/events and
/metrics.

Memory: the edge collects garbage at GOGC=50 (the heap grows to 1.5 times
what is live) unless $GOGC is set; $GOMEMLIMIT adds a soft limit
(docs/sizing.md).

--check validates the settings, the inputs and pipeline files and the
enrollment without starting: it prints what the edge would run, the
pipeline file's warnings, and every problem found (exit status 1).

` + configHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if cfg.Outbox, err = ob.options(); err != nil {
				return err
			}
			if hubCA != "" {
				if cfg.HubRoots, err = trustCA(hubCA); err != nil {
					return err
				}
			}
			if check {
				return checkEdge(g, cfg)
			}
			if cfg.ReleaseKeys, err = readPublicKeys("--release-key", releaseKeys); err != nil {
				return err
			}
			if cfg.MarketKeys, err = readPublicKeys("--market-key", marketKeys); err != nil {
				return err
			}
			if supervise && !edge.Launched() {
				installed, err := os.Executable()
				if err != nil {
					return fmt.Errorf("--supervise: the launcher's own binary: %w", err)
				}
				log.Info("molen edge launcher", "version", Version(), "trial", trial)
				return edge.Supervise(cmd.Context(), edge.LaunchOptions{DataDir: cfg.DataDir, Installed: installed,
					Args: withoutFlag(os.Args[1:], "supervise"), Trial: trial, Log: log, Stdout: g.stdout, Stderr: g.stderr})
			}
			cfg.Log, cfg.Version = log, Version()
			log.Info("molen edge", "version", Version(), "gogc", edgeGC(os.LookupEnv))
			stopTraces, err := startTraces(cmd.Context(), otelEndpoint, "molen-edge", log)
			if err != nil {
				return err
			}
			defer stopTraces()
			if err := startPprof(cmd.Context(), log); err != nil {
				return err
			}
			e, err := edge.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			select {
			case <-cmd.Context().Done():
				log.Info("stopping edge")
				return e.Close()
			case <-e.Restart():
				log.Info("stopping edge for its launcher to start the update")
				if err := e.Close(); err != nil {
					return err
				}
				return edge.ExitError{Code: edge.ExitRestart}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", filepath.Join("molen-data", "edge"), "data directory (buffer, credential)")
	f.StringVar(&otelEndpoint, "otel-endpoint", "", otelHelp)
	f.StringVar(&cfg.MQTTListen, "mqtt-listen", edge.DefaultMQTTListen, "MQTT listener for devices (without a devices file any client may publish: keep it on the machine network)")
	f.StringVar(&cfg.DevicesFile, "devices", "", "devices that may connect, with password hashes and UNS prefixes (default: <data>/devices.yaml if it exists; none: any client may connect)")
	f.BoolVar(&cfg.SecurityFacts, "security-facts", false, "write the edge's security facts (listeners, TLS, device authentication, credential age) as points under _edge/security/ at start and hourly, for the security self-check service")
	f.BoolVar(&cfg.MQTTAnonymous, "mqtt-anonymous", false, "with a devices file, admit clients without username or certificate too (they publish anywhere)")
	f.StringVar(&cfg.MQTTTLSCert, "mqtt-tls-cert", "", "PEM certificate of the MQTT listener: devices connect over TLS; with --mqtt-tls-key")
	f.StringVar(&cfg.MQTTTLSKey, "mqtt-tls-key", "", "PEM private key of --mqtt-tls-cert")
	f.StringVar(&cfg.MQTTClientCA, "mqtt-client-ca", "", "PEM CA of device client certificates: a device may log in with a certificate whose common name is its name in the devices file")
	f.BoolVar(&cfg.MQTTAllowSubscribe, "mqtt-allow-subscribe", false, "let MQTT clients subscribe to device data; a device of the devices file under its prefix only (off: none)")
	f.StringSliceVar(&cfg.MQTTTextTopics, "mqtt-text-topics", nil, "topic filters (+, #) whose plain-text payloads (running, ON) are stored as strings; elsewhere payloads must be JSON")
	f.StringVar(&cfg.StatusListen, "status-listen", edge.DefaultStatusListen, "status API and /metrics")
	f.StringVar(&cfg.HubURL, "hub", "", "hub base URL, e.g. http://hub.example:8080; several separated by commas (replicas of a hub cluster): the edge moves to the next when one does not answer")
	f.StringVar(&hubCA, "hub-ca", "", "PEM file of the CA (or the certificate) the hub's HTTPS certificate is checked against, besides the system's roots")
	f.StringSliceVar(&cfg.HubPins, "hub-pin", nil, "accept only a hub whose certificate chain has this public key: sha256/<base64> (the hub logs its pin at start); repeat for a key change")
	f.StringVar(&cfg.EnrollToken, "enroll-token", "", "one-time enrollment token from the hub (first start, or to enroll again)")
	f.StringVar(&cfg.OutputsFile, "outputs", "", "outputs besides the hub: MQTT UNS republish, Sparkplug B edge node, InfluxDB, Prometheus remote write (YAML, see docs/outputs.md)")
	f.StringVar(&cfg.InputsFile, "inputs", "", "connector inputs to read besides the MQTT listener (YAML, see docs/connectors.md); the hub's desired state, once it holds parts for this edge, runs instead")
	f.StringVar(&cfg.PipelineFile, "pipeline", "", "pipeline specification (YAML, see docs/pipelines.md); reloaded when the file changes; the hub's desired state, once it holds parts for this edge, runs instead")
	f.DurationVar(&cfg.ManifestPoll, "manifest-poll", edge.DefaultManifestPoll, "how often to ask the hub for this edge's desired state and report to its inventory (docs/fleet.md); negative: never (a stand-alone edge runs its files)")
	f.DurationVar(&cfg.CommandWait, "command-wait", edge.DefaultCommandWait, "how long the hub holds the edge's long poll for diagnostics commands and desired-state changes (docs/fleet.md); negative: no long poll")
	f.DurationVar(&cfg.HealthWindow, "health-window", edge.DefaultHealthWindow, "how long to watch the edge's health after applying a desired state before keeping it; a failure returns to the previous state")
	f.StringSliceVar(&marketKeys, "market-key", nil, "PEM file of the platform's marketplace key, whose countersigned services the edge runs (the hub's GET /api/v1/market/key; repeatable); replaces the key the hub named when the edge enrolled (none given and none learned: no installed service runs)")
	f.StringSliceVar(&releaseKeys, "release-key", nil, "PEM file of a public release key whose signed software updates the edge accepts (molen release keygen; repeatable); replaces the keys the hub named when the edge enrolled (none given and none learned: no updates)")
	f.BoolVar(&supervise, "supervise", false, "run the edge as a child of this launcher, which carries out software updates: it starts a new version on trial and goes back when it fails (docs/fleet.md#software-update)")
	f.DurationVar(&trial, "update-trial", edge.DefaultTrial, "with --supervise: how long a new version has to report to the hub before the launcher goes back to the previous one")
	f.BoolVar(&check, "check", false, "validate settings, inputs and pipeline files and enrollment, print the plan, and exit")
	ob.add(cmd)
	startPprof = addPprof(cmd)
	withConfig(cmd, g)
	cmd.AddCommand(newEdgeRotateKey(g), newEdgeDevice(g))
	return cmd
}

// edgeGCPercent is the edge's garbage collection target (GOGC) unless the
// environment sets one: the heap may grow to 1.5 times what is live
// between collections instead of Go's twice. An edge runs on small
// industrial PCs beside other software; at 1,000 tags its live heap is
// 7–11 MB, and the collector's headroom was most of its anonymous
// memory (docs/adr/0034-edge-footprint.md).
const edgeGCPercent = 50

// edgeGC sets edgeGCPercent unless $GOGC is set (then the runtime read it
// at start) and returns the GOGC in force.
func edgeGC(lookupEnv func(string) (string, bool)) int {
	if _, set := lookupEnv("GOGC"); set {
		n := debug.SetGCPercent(100)
		debug.SetGCPercent(n)
		return n
	}
	debug.SetGCPercent(edgeGCPercent)
	return edgeGCPercent
}

// newEdgeDevice manages the devices file.
func newEdgeDevice(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "device", Short: "Manage the devices that may connect to the edge's MQTT listener"}
	var data, file, prefix string
	add := &cobra.Command{
		Use:   "add NAME --prefix UNS/PATH",
		Short: "Add a device to the devices file and print its new password (once)",
		Long: `Add a device to the devices file (<data>/devices.yaml, or --devices) with
a new random password, and print the password: the file keeps only its argon2id
hash, so note it now. The device connects with NAME as its MQTT username and may
publish only under --prefix. A running edge reads the file again at the next
connection; once the file exists, clients without a device's credentials are
refused (unless the edge runs with --mqtt-anonymous).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				file = filepath.Join(data, edge.DevicesFile)
			}
			if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
				return err
			}
			pw, err := edge.AddDevice(cmd.Context(), file, args[0], prefix)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "device %s added to %s, publishing under %s\nusername: %s\npassword: %s\n(shown once: the file keeps only its hash)\n", args[0], file, prefix, args[0], pw)
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&data, "data", filepath.Join("molen-data", "edge"), "the edge's data directory")
	f.StringVar(&file, "devices", "", "the devices file (default <data>/devices.yaml)")
	f.StringVar(&prefix, "prefix", "", "UNS path under which the device may publish, e.g. plant/hall1/press1 (required)")
	_ = add.MarkFlagRequired("prefix")
	cmd.AddCommand(add)
	return cmd
}

// newEdgeRotateKey asks a running edge, through its status API, to make
// a new key and register it at the hub.
func newEdgeRotateKey(g *globals) *cobra.Command {
	var status string
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Give a running edge a new key: made on the edge, registered at the hub, used from then on",
		Long: `Give a running edge a new Ed25519 key. The edge makes it, registers it at
the hub (authorised by its current key, with the new key's proof), and signs
every request with it from then on. Buffered data keeps flowing: the hub accepts
the previous key for 5 more minutes. An edge enrolled with a bearer credential
moves to a key this way (it also does so by itself at start). Prints the new
key's fingerprint.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, "http://"+status+"/api/v1/rotate-key", nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("reach the edge's status API at %s (is the edge running? --status-listen): %w", status, err)
			}
			defer resp.Body.Close()
			var out struct{ Key, Error string }
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				return fmt.Errorf("edge answered %s", resp.Status)
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("key rotation failed: %s", out.Error)
			}
			fmt.Fprintln(g.stdout, "new key:", out.Key)
			return nil
		},
	}
	cmd.Flags().StringVar(&status, "status-listen", edge.DefaultStatusListen, "the running edge's status API address")
	return cmd
}

// checkEdge prints what an edge with cfg would run and returns every
// problem edge.Check found.
func checkEdge(g *globals, cfg edge.Config) error {
	p, err := edge.Check(cfg)
	w := g.stdout
	switch {
	case p.EdgeID != "":
		fmt.Fprintf(w, "hub: %s (enrolled as %s)\n", p.Hub, p.EdgeID)
	case p.Hub != "":
		fmt.Fprintf(w, "hub: %s (not enrolled yet)\n", p.Hub)
	}
	if cfg.InputsFile != "" {
		fmt.Fprintf(w, "inputs from %s: %d\n", cfg.InputsFile, len(p.Inputs))
		for _, in := range p.Inputs {
			fmt.Fprintln(w, "  "+in)
		}
	}
	if cfg.OutputsFile != "" {
		fmt.Fprintf(w, "outputs from %s: %d\n", cfg.OutputsFile, len(p.Outputs))
		for _, o := range p.Outputs {
			fmt.Fprintln(w, "  "+o)
		}
	}
	if cfg.PipelineFile != "" {
		fmt.Fprintf(w, "pipelines from %s: %d\n", cfg.PipelineFile, len(p.Pipelines))
		for _, pl := range p.Pipelines {
			fmt.Fprintln(w, "  "+pl)
		}
	}
	for _, warn := range p.Warnings {
		fmt.Fprintln(g.stderr, "warning:", warn)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "ok")
	return nil
}

// withoutFlag is args without the boolean flag name (--name, --name=…).
func withoutFlag(args []string, name string) []string {
	var out []string
	for _, a := range args {
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			continue
		}
		out = append(out, a)
	}
	return out
}

// trustCA returns the system's roots with the certificates of a PEM
// file added: what the edge checks the hub's certificate against.
func trustCA(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--hub-ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--hub-ca %s: no PEM certificate in it", file)
	}
	return pool, nil
}
