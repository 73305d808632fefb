package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
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
	var ob outboxFlags
	var check bool
	var hubCA string
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
edge stores its own credential in <data>/credential.json and needs no token
afterwards. Status: http://<status-listen>/api/v1/status, /api/v1/events and
/metrics.

--check validates the settings, the inputs and pipeline files and the
enrollment without starting: it prints what the edge would run, the
pipeline file's warnings, and every problem found (exit status 1).`,
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
				if err := trustCA(hubCA); err != nil {
					return err
				}
			}
			if check {
				return checkEdge(g, cfg)
			}
			cfg.Log = log
			log.Info("molen edge", "version", Version())
			e, err := edge.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			<-cmd.Context().Done()
			log.Info("stopping edge")
			return e.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", filepath.Join("molen-data", "edge"), "data directory (buffer, credential)")
	f.StringVar(&cfg.MQTTListen, "mqtt-listen", edge.DefaultMQTTListen, "MQTT listener for devices (no device authentication: keep it on the machine network)")
	f.BoolVar(&cfg.MQTTAllowSubscribe, "mqtt-allow-subscribe", false, "let MQTT clients subscribe to device data (off: anyone reaching the listener could read everything)")
	f.StringSliceVar(&cfg.MQTTTextTopics, "mqtt-text-topics", nil, "topic filters (+, #) whose plain-text payloads (running, ON) are stored as strings; elsewhere payloads must be JSON")
	f.StringVar(&cfg.StatusListen, "status-listen", edge.DefaultStatusListen, "status API and /metrics")
	f.StringVar(&cfg.HubURL, "hub", "", "hub base URL, e.g. http://hub.example:8080")
	f.StringVar(&hubCA, "hub-ca", "", "PEM file of the CA (or the certificate) the hub's HTTPS certificate is checked against, besides the system's roots")
	f.StringVar(&cfg.EnrollToken, "enroll-token", "", "one-time enrollment token from the hub (first start, or to enroll again)")
	f.StringVar(&cfg.InputsFile, "inputs", "", "connector inputs to read besides the MQTT listener (YAML, see docs/connectors.md)")
	f.StringVar(&cfg.PipelineFile, "pipeline", "", "pipeline specification (YAML, see docs/pipelines.md); reloaded when the file changes")
	f.BoolVar(&check, "check", false, "validate settings, inputs and pipeline files and enrollment, print the plan, and exit")
	ob.add(cmd)
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

// trustCA adds the certificates of a PEM file to the roots this process
// checks HTTPS servers against (the system's roots stay): the edge's
// uplink uses the default transport.
func trustCA(file string) error {
	pem, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("--hub-ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("--hub-ca %s: no PEM certificate in it", file)
	}
	tr, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return errors.New("--hub-ca: the default HTTP transport is not adjustable")
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return nil
}
