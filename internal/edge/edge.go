package edge

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/sync/errgroup"

	"github.com/molen-io/molen/internal/outbox"
	"github.com/molen-io/molen/internal/output"
	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/service"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// Config configures an edge. The zero value of each field has a usable default
// except DataDir.
type Config struct {
	DataDir      string // holds the outbox and the credential; required
	MQTTListen   string // device-facing MQTT listener; default 127.0.0.1:1883
	StatusListen string // status API and /metrics; default 127.0.0.1:9880
	HubURL       string // hub base URL; required to enroll
	EnrollToken  string // one-time token, used when no credential is stored (or it was refused)
	// HubPins are pins of the hub's public key ("sha256/<base64>", see
	// uplink.CertPin): the edge talks only to a hub whose certificate chain holds
	// one of them. Empty: the certificate check alone.
	HubPins []string
	// HubRoots are the certificates the hub's HTTPS certificate is
	// checked against (--hub-ca with the system's); nil: the system's.
	HubRoots *x509.CertPool
	// MQTTAllowSubscribe lets MQTT clients subscribe to the device data
	// (local dashboards); with a devices file, a device subscribes under
	// its prefix only. Off by default: without a devices file anyone who
	// can reach the listener could read everything.
	MQTTAllowSubscribe bool
	// DevicesFile lists the devices that may connect to the MQTT
	// listener, their password hashes and UNS prefixes (LoadDevices).
	// "": DevicesFile in DataDir if it exists; without one the listener
	// admits any client (and says so at start).
	DevicesFile string
	// SecurityFacts writes the edge's security facts (SecurityFacts) into
	// its pipeline at start and every SecurityFactsEvery, for the security
	// self-check service.
	SecurityFacts bool
	// MQTTAnonymous admits clients without a username or certificate
	// beside the devices of the devices file (they publish anywhere).
	MQTTAnonymous bool
	// MQTTTLSCert and MQTTTLSKey make the device listener speak TLS
	// (MQTT over TLS); MQTTClientCA, in addition, lets devices log in
	// with a client certificate signed by it, whose common name is the
	// device's name.
	MQTTTLSCert, MQTTTLSKey, MQTTClientCA string
	// MQTTTextTopics are topic filters (MQTT wildcards + and #) of the
	// topics whose devices may send plain text (running, ON): there a
	// payload that is not JSON is one string value (uns.DecodeText).
	// Elsewhere it is rejected, so that a device sending broken JSON or
	// the wrong kind of data is noticed, not stored as a string.
	MQTTTextTopics []string
	Outbox         outbox.Options // buffer bounds and sync policy
	Stage          pipeline.Stage // default pipeline.Passthrough; replaced by the runner of PipelineFile
	// PipelineFile is a pipeline specification (docs/pipelines.md). The
	// edge reloads it when it changes, without losing buffered data.
	PipelineFile string
	// InputsFile lists connector inputs (docs/connectors.md) the edge reads
	// besides its MQTT listener.
	InputsFile string
	// OutputsFile lists outputs (docs/outputs.md) that get the pipeline's
	// output besides the hub: an MQTT broker, Sparkplug, InfluxDB, remote
	// write.
	OutputsFile string
	// ManifestPoll is how often the edge asks the hub for its desired
	// state and reports its own (docs/fleet.md); 0: DefaultManifestPoll,
	// negative: never (a stand-alone edge, its files alone). A manifest's
	// poll_interval setting replaces it once applied.
	ManifestPoll time.Duration
	// HealthWindow is how long the edge watches its health after applying
	// a manifest before keeping it; 0: DefaultHealthWindow. A manifest's
	// health_window setting replaces it.
	HealthWindow time.Duration
	// CommandWait is how long the hub holds the edge's long poll for
	// diagnostics commands and manifest changes (docs/fleet.md); 0:
	// DefaultCommandWait, negative: no long poll (the manifest is then
	// fetched every ManifestPoll only, and no command reaches the edge).
	CommandWait time.Duration
	// Version is the molen version the edge reports to the hub.
	Version string
	// ReleaseKeys are the keys the edge accepts software updates signed
	// by (docs/fleet.md#software-update); none: it takes no update.
	ReleaseKeys []ed25519.PublicKey
	// MarketKeys are the platform's marketplace keys: the edge runs a
	// service installed from the hub only when one of them countersigned
	// its version (docs/services.md); none: it runs no installed service.
	MarketKeys []ed25519.PublicKey
	Log        *slog.Logger
	// Now is the clock of maintenance windows; nil: time.Now.
	Now func() time.Time
}

// Defaults for Config.
const (
	DefaultMQTTListen   = "0.0.0.0:1883"
	DefaultStatusListen = "127.0.0.1:9880"
)

// Validate checks the config, naming the field at fault.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("edge.data: required")
	}
	if c.HubURL == "" && c.EnrollToken != "" {
		return errors.New("edge.hub: required with an enrollment token")
	}
	if c.HubURL != "" {
		if err := validateHubURL(c.HubURL); err != nil {
			return err
		}
	}
	if _, err := parsePins(c.HubPins); err != nil {
		return err
	}
	if err := validatePinnedHub(c.HubURL, c.HubPins); err != nil {
		return err
	}
	if (c.MQTTTLSCert == "") != (c.MQTTTLSKey == "") {
		return errors.New("edge.mqtt_tls_cert and edge.mqtt_tls_key: give both or neither")
	}
	if c.MQTTClientCA != "" && c.MQTTTLSCert == "" {
		return errors.New("edge.mqtt_client_ca: needs the TLS listener (edge.mqtt_tls_cert and edge.mqtt_tls_key)")
	}
	_, err := c.textTopics()
	return err
}

// textTopics parses MQTTTextTopics.
func (c Config) textTopics() ([]pipeline.Glob, error) {
	gs := make([]pipeline.Glob, len(c.MQTTTextTopics))
	for i, f := range c.MQTTTextTopics {
		var err error
		if gs[i], err = pipeline.ParseGlob(f); err != nil {
			return nil, fmt.Errorf("edge.mqtt_text_topics[%d]: %w", i, err)
		}
	}
	return gs, nil
}

// Edge is a running edge.
type Edge struct {
	cfg Config
	// svcMu guards svcErr: why a service package's download failed, by
	// its sha256.
	svcMu   sync.Mutex
	svcErr  map[string]string
	log     *slog.Logger
	outbox  *outbox.Log
	outputs *output.Set // nil: none
	stage   pipeline.Stage
	mqtt    *mqtt.Server
	mqttL   *deviceListener // the device socket, see Close
	devices *deviceAuth     // who may connect and publish where
	status  *http.Server
	statusL net.Listener
	http    *http.Client
	metrics *metrics
	text    []pipeline.Glob // Config.MQTTTextTopics
	rejects rejectLog
	// logLimit rate-limits the log lines of conditions that repeat at a
	// device's rate: rejections, mochi's complaints about connections.
	logLimit *logLimiter
	resends  *resendTable // device publishes stored recently, to recognise resends
	fwd      forwardState
	fwdRate  rateMeter      // what the forwarder sent over the last seconds
	pipe     *pipelineState // nil without PipelineFile and desired state
	inputsMu sync.Mutex     // guards inputs (the manifest changes them)
	inputs   []managedInput
	managed  *managed
	sw       software
	restart  chan struct{} // closed when an update is staged: the edge should stop for its launcher
	poll     atomic.Int64  // the manifest poll interval now, ns
	cpu      cpuMeter
	started  time.Time
	// Remote diagnostics: recent log records and raw points, the long
	// poll's HTTP client, and its word that the manifest changed.
	logs        *logRing
	recent      recentPoints
	pollHTTP    *http.Client
	manifestNow chan struct{}
	runCtx      context.Context // ends when the edge closes

	tokenTried bool // owned by the forward goroutine
	// keyMu serialises changes of the stored credential and key
	// (enrollment, key changes); signer is the key requests are signed
	// with now (nil: the credential). keyWanted says the stored identity
	// wants a key change (ensureKey); keyRetry, owned by the forward
	// goroutine, when to try it again after a failure.
	keyMu     sync.Mutex
	signer    atomic.Pointer[uplink.Signer]
	keyWanted atomic.Bool
	keyRetry  time.Time
	refusing  atomic.Bool // the outbox is refusing data; for logging the change only
	closing   atomic.Bool // Close has begun: sessions that start now are ended
	own       ownClients  // the device sessions on the own ingest path

	cancel    context.CancelFunc
	group     *errgroup.Group
	closeOnce sync.Once
	closeErr  error
}

// Start opens the outbox, starts the MQTT listener, the status API and the
// forwarder, and returns once devices can connect. Close stops it.
func Start(ctx context.Context, cfg Config) (*Edge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// A damaged credential, or no way to enroll, is a start-up error, not a
	// forwarder that waits for ever.
	if _, err := cfg.enrollment(); err != nil {
		return nil, err
	}
	if cfg.MQTTListen == "" {
		cfg.MQTTListen = DefaultMQTTListen
	}
	if cfg.StatusListen == "" {
		cfg.StatusListen = DefaultStatusListen
	}
	if cfg.ManifestPoll == 0 {
		cfg.ManifestPoll = DefaultManifestPoll
	}
	if cfg.HealthWindow <= 0 {
		cfg.HealthWindow = DefaultHealthWindow
	}
	if cfg.Stage == nil {
		cfg.Stage = pipeline.Passthrough{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.CommandWait == 0 {
		cfg.CommandWait = DefaultCommandWait
	}
	cfg.CommandWait = min(cfg.CommandWait, uplink.MaxCommandWait)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// Recent log records are kept for remote diagnostics.
	logs := &logRing{}
	cfg.Log = slog.New(teeHandler{next: cfg.Log.Handler(), ring: logs})
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	// Compiled service modules, so that a restart does not compile them again.
	service.UseCacheDir(filepath.Join(cfg.DataDir, "wasm-cache"))
	text, _ := cfg.textTopics() // checked by Validate
	pins, _ := parsePins(cfg.HubPins)
	e := &Edge{svcErr: map[string]string{},
		cfg:      cfg,
		text:     text,
		log:      cfg.Log,
		stage:    cfg.Stage,
		resends:  newResendTable(resendKeep),
		logLimit: newLogLimiter(),
		http:     hubClient(cfg.HubRoots, pins, 10*time.Second),
		started:  time.Now(),
		logs:     logs,
		// The long poll's answer comes after up to CommandWait.
		pollHTTP:    hubClient(cfg.HubRoots, pins, max(cfg.CommandWait, 0)+10*time.Second),
		manifestNow: make(chan struct{}, 1),
	}
	oo := cfg.Outbox
	if oo.Log == nil {
		oo.Log = cfg.Log.With("component", "outbox")
	}
	ob, err := outbox.Open(filepath.Join(cfg.DataDir, "outbox"), oo)
	if err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	e.outbox = ob
	if cfg.OutputsFile != "" {
		outs, err := output.Load(cfg.OutputsFile)
		if err == nil {
			e.outputs, err = output.Open(filepath.Join(cfg.DataDir, "outputs"), outs, cfg.Log.With("component", "output"))
		}
		if err != nil {
			ob.Close()
			return nil, err
		}
	}
	e.metrics = newMetrics(e)
	// Before devices connect (their resends come first) and before the
	// forwarder runs (acknowledged segments are deleted).
	if err := e.rebuildResends(); err != nil {
		// Not fatal: resends of publishes stored before the restart are then
		// stored again, which duplicates but never loses.
		e.log.Warn("cannot read recent outbox records to recognise device resends", "err", err)
	}
	c, err := e.startDesired()
	if err != nil {
		ob.Close()
		return nil, err
	}
	e.restart = make(chan struct{})
	e.startSoftware()
	if cfg.PipelineFile != "" || e.managing() {
		file := cfg.PipelineFile
		if e.managed.state.Current != nil {
			file = ""
		}
		if err := e.loadPipeline(c.def, file); err != nil {
			ob.Close()
			return nil, err
		}
	}
	if err := e.buildInputs(c); err != nil {
		ob.Close()
		return nil, err
	}

	if err := e.startMQTT(); err != nil {
		ob.Close()
		return nil, err
	}
	if err := e.startStatus(); err != nil {
		e.mqtt.Close()
		ob.Close()
		return nil, err
	}
	ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	e.group, ctx = errgroup.WithContext(ctx)
	e.runCtx = ctx
	e.group.Go(func() error { return e.forward(ctx) })
	e.group.Go(func() error { return e.outputs.Run(ctx) })
	if cfg.SecurityFacts {
		e.group.Go(func() error { return e.securityFacts(ctx) })
	}
	if e.pipe != nil {
		e.group.Go(func() error { return e.runPipeline(ctx) })
	}
	for i := range e.inputs {
		e.runInput(&e.inputs[i])
	}
	if e.managing() {
		e.group.Go(func() error { return e.manage(ctx) })
		if cfg.CommandWait > 0 {
			e.group.Go(func() error { return e.commands(ctx) })
		}
	}
	e.group.Go(func() error {
		if err := e.status.Serve(e.statusL); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("status API: %w", err)
		}
		return nil
	})
	e.log.Info("edge started", "mqtt", e.MQTTAddr(), "status", e.StatusAddr(), "outbox", ob.ID(),
		"recent_publishes", e.resends.len())
	return e, nil
}

func (e *Edge) startMQTT() error {
	caps := mqtt.NewDefaultServerCapabilities()
	// mochi disconnects a client whose packet exceeds this; payloads between
	// uns.MaxPayload and this size are rejected and counted by the ingest
	// hook instead, so a device sees a clear reason.
	caps.MaximumPacketSize = maxPacket
	// Retained messages would be kept per topic without bound; the edge's
	// job is to forward, not to serve late subscribers.
	caps.RetainAvailable = 0
	// A refused subscription is answered 0x80 (failure): mochi's 0x87 is
	// MQTT 5 only, and not a valid SUBACK code on 3.1.1.
	caps.Compatibilities.ObscureNotAuthorized = true
	s := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       slog.New(mqttLog{e.log.Handler(), e.logLimit}).With("component", "mqtt"),
	})
	auth, err := newDeviceAuth(e)
	if err != nil {
		return err
	}
	if err := s.AddHook(auth, nil); err != nil {
		return fmt.Errorf("mqtt auth hook: %w", err)
	}
	e.devices = auth
	if err := s.AddHook(&ingestHook{e: e, aliasMax: caps.TopicAliasMaximum}, nil); err != nil {
		return fmt.Errorf("mqtt ingest hook: %w", err)
	}
	var tc *tls.Config
	if e.cfg.MQTTTLSCert != "" {
		if tc, err = deviceTLS(e.cfg); err != nil {
			return err
		}
	}
	ln, err := listenDevices(e.cfg.MQTTListen, tc)
	if err != nil {
		return fmt.Errorf("mqtt listen on %s: %w", e.cfg.MQTTListen, err)
	}
	dl := newDeviceListener(ln)
	own := !e.cfg.MQTTAllowSubscribe // the own path passes nothing on to subscribers
	if own {
		dl.serve = e.serveDevice
	}
	if err := s.AddListener(listeners.NewNet(mqttListenerID, dl)); err != nil {
		ln.Close()
		return fmt.Errorf("mqtt listener: %w", err)
	}
	if err := s.Serve(); err != nil {
		ln.Close()
		return fmt.Errorf("mqtt serve: %w", err)
	}
	e.mqtt, e.mqttL = s, dl
	if own {
		dl.start()
	}
	return nil
}

func (e *Edge) startStatus() error {
	l, err := net.Listen("tcp", e.cfg.StatusListen)
	if err != nil {
		return fmt.Errorf("status API listen on %s: %w", e.cfg.StatusListen, err)
	}
	e.statusL = l
	e.status = &http.Server{Handler: e.statusHandler(), ReadHeaderTimeout: 10 * time.Second}
	return nil
}

// mqttListenerID names the device listener in mochi.
const mqttListenerID = "devices"

// MQTTAddr is the bound address of the device listener.
func (e *Edge) MQTTAddr() string { return e.mqttL.Addr().String() }

// StatusAddr is the bound address of the status API.
func (e *Edge) StatusAddr() string { return e.statusL.Addr().String() }

// Close stops accepting device data, stops forwarding and closes the outbox
// (flushed and fsynced). Everything acknowledged to a device is on disk and
// will be forwarded after the next start.
// Close may be called more than once.
func (e *Edge) Close() error {
	e.closeOnce.Do(func() {
		// Devices first: once the listener is gone no new PUBACK can be owed.
		// The device listener stops accepting and waits until mochi took up
		// every connection it handed out (see deviceListener); then the
		// clients mochi knows are told the server shuts down, and every
		// connection is closed, handshakes in progress included. Sessions
		// that started meanwhile are ended by the ingest hook (closing).
		e.closing.Store(true)
		mqttErr := e.mqttL.shut(func() {
			// mochi's own way of disconnecting a listener's clients
			// (Clients.GetByListener) read-locks the client map twice; a
			// device disconnecting in between (Clients.Delete waits for the
			// write lock) deadlocks both. Disconnect from one snapshot;
			// mochi's Close then finds the listener ended.
			e.mqtt.Listeners.Close(mqttListenerID, func(id string) {
				for _, cl := range e.mqtt.Clients.GetAll() {
					if cl.Net.Listener == id && !cl.Closed() {
						_ = e.mqtt.DisconnectClient(cl, packets.ErrServerShuttingDown)
					}
				}
			})
		})
		mqttErr = errors.Join(mqttErr, e.mqtt.Close())
		e.cancel()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		statusErr := e.status.Shutdown(sctx)
		runErr := e.group.Wait()
		obErr := errors.Join(e.outbox.Close(), e.outputs.Close())
		e.closeErr = errors.Join(mqttErr, statusErr, runErr, obErr)
	})
	return e.closeErr
}

// mqttLog filters mochi's logging: mochi logs every start, stop and hook
// at info, and a device that disconnects as a warning with the network
// error; keep real warnings only. Those come at the rate devices misbehave
// (a line per bad packet or connection), so they go through the edge's log
// limiter, one line per message every logEvery; and a packet in them
// (mochi logs whole ones, up to 1 MiB of payload) is cut down to its type,
// topic and size.
type mqttLog struct {
	slog.Handler
	limit *logLimiter
}

func (h mqttLog) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h mqttLog) Handle(ctx context.Context, r slog.Record) error {
	// Connections that end normally are not news, and those closed over
	// a topic the ingest hook counts and logs itself.
	skip := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && (errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || topicError(err)) {
			skip = true
			return false
		}
		return true
	})
	if skip {
		return nil
	}
	ok, held := h.limit.allow("mqtt:" + r.Message)
	if !ok {
		return nil
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if pk, ok := a.Value.Any().(packets.Packet); ok {
			a.Value = slog.GroupValue(slog.String("type", packets.PacketNames[pk.FixedHeader.Type]),
				slog.String("topic", keptText(pk.TopicName, 2*uns.MaxPathLen)), slog.Int("payload_bytes", len(pk.Payload)))
		}
		out.AddAttrs(a)
		return true
	})
	if held > 0 {
		out.AddAttrs(slog.Int("suppressed", held))
	}
	return h.Handler.Handle(ctx, out)
}

func (h mqttLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return mqttLog{h.Handler.WithAttrs(attrs), h.limit}
}

func (h mqttLog) WithGroup(name string) slog.Handler {
	return mqttLog{h.Handler.WithGroup(name), h.limit}
}

// hubClient is an HTTP client for the hub. A hub that accepted a
// request but does not answer (hung, or a network path that lost the
// answer) is given up on header after the request was sent (10 s for the
// forwarder, so forwarding resumes within seconds; the long poll adds
// its wait); sending a big batch over a slow link may take up
// to two minutes. The hub's certificate is checked against roots (nil:
// the system's); with pins, its chain must also hold one of them
// (pinTLS).
func hubClient(roots *x509.CertPool, pins []string, header time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = header
	if roots != nil || len(pins) > 0 {
		tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if len(pins) > 0 {
			tc = pinTLS(tc, pins)
		}
		t.TLSClientConfig = tc
	}
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}
}
