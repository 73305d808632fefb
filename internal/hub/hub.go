package hub

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/blob"
	"github.com/molen-io/molen/internal/cluster"
	"github.com/molen-io/molen/internal/factory"
	"github.com/molen-io/molen/internal/fleet"
	"github.com/molen-io/molen/internal/ingest"
	"github.com/molen-io/molen/internal/live"
	"github.com/molen-io/molen/internal/market"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/notify"
	"github.com/molen-io/molen/internal/programme"
	"github.com/molen-io/molen/internal/quota"
	"github.com/molen-io/molen/internal/ratelimit"
	"github.com/molen-io/molen/internal/reports"
	"github.com/molen-io/molen/internal/secret"
	"github.com/molen-io/molen/internal/series"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/store/postgres"
	"github.com/molen-io/molen/internal/store/sqlite"
	"github.com/molen-io/molen/internal/uplink"
	"github.com/molen-io/molen/internal/web"
)

// DefaultOrg is the organisation a new hub creates for its first admin.
const DefaultOrg = "default"

// DefaultListen is the hub's default HTTP address.
const DefaultListen = "127.0.0.1:8080"

// AdminTokenFile is the name of the file, in the data directory, that holds
// the admin token created on first start.
const AdminTokenFile = "admin-token"

// SecretsKeyFile is the file, in the data directory, of the key that
// encrypts the desired state's secrets at rest (made on first start; hubs
// sharing one database must share it: docs/security.md).
const SecretsKeyFile = "secrets.key"

// MarketKeyFile is the file, in the data directory, of the platform's
// marketplace key, which countersigns released service versions (made on
// first start; edges trust its public key, GET /api/v1/market/key:
// docs/services.md).
const MarketKeyFile = "market.key"

// Files of the embedded storage in the data directory: the time series,
// and the metadata of the domains.
const (
	StoreFile = "molen.db"
	MetaFile  = "meta.db"
)

// Config configures a hub.
type Config struct {
	DataDir string // required: embedded databases and admin token
	// Store is where points and metadata live: "" for the embedded
	// databases in DataDir, or a PostgreSQL URL (postgres://…).
	Store string
	// StoreSchema is the PostgreSQL schema (default "molen"), so several
	// hubs can share one database.
	StoreSchema string
	Listen      string       // HTTP address for API, UI and metrics; default DefaultListen
	Log         *slog.Logger // default: discard
	Out         io.Writer    // where the first-start admin token is printed; default os.Stdout
	// Now is the hub's clock; default time.Now.
	Now func() time.Time
	// ReleaseKeys are the keys the hub accepts software releases signed
	// by (docs/fleet.md#software-update); none: it accepts no release.
	// Their binaries are kept in DataDir/releases.
	ReleaseKeys []ed25519.PublicKey

	// TLSCert and TLSKey are PEM files of the hub's certificate (with its
	// chain) and key: with both, the hub serves HTTPS only (TLS 1.2 and
	// later), session cookies are Secure and answers carry HSTS.
	TLSCert, TLSKey string
	// PublicURL is the hub's address as people and edges reach it
	// ("https://hub.example.org"), for the links it makes; default URL().
	PublicURL string
	// OIDC are identity providers people may sign in with.
	OIDC []auth.OIDCProvider
	// SessionIdle and SessionMax end browser sessions (defaults 1 h and
	// 12 h).
	SessionIdle, SessionMax time.Duration
	// Rates are the rate limits; a zero Rate is the default, a negative
	// PerSecond none.
	Rates Rates
	// TrustedProxies are the addresses or CIDR ranges of reverse proxies in
	// front of the hub, whose X-Forwarded-For (the client's address, for
	// limits and the audit log) and X-Forwarded-Proto (HTTPS: Secure
	// cookies, HSTS) it believes.
	TrustedProxies []string

	// SMTP is the mail server for the notifications sent by e-mail; none
	// when its Addr is "".
	SMTP notify.SMTP
	// NotifyPrivateTargets lets notification webhooks and MQTT channels
	// reach loopback, link-local and private addresses.
	NotifyPrivateTargets bool

	// Retention of an organisation that has set none (see
	// store.Retention): raw points, minute and hour rollups. Zero means
	// the default (DefaultRetentionRaw, …); KeepForever keeps that kind
	// forever.
	RetentionRaw, RetentionMinute, RetentionHour time.Duration

	// Quota of an organisation that a platform admin gave none; nil:
	// quota.Default. A limit of 0 in it means no limit.
	Quota *quota.Limits

	// RolloutEvery is how often the rollout controller moves rollouts on
	// (docs/fleet.md#rollouts); default DefaultRolloutEvery.
	RolloutEvery time.Duration

	// Cluster makes the hub one replica of a hub cluster on NATS
	// JetStream and PostgreSQL (docs/cluster.md); nil: a single hub.
	Cluster *Cluster
}

// Cluster configures a hub replica (docs/cluster.md).
type Cluster struct {
	// NATS are the URLs of the cluster's NATS servers (nats://host:4222);
	// with Node, the embedded node's own address comes first.
	NATS []string
	// Node, if set, is an embedded NATS server this replica runs as one
	// node of the NATS cluster.
	Node *cluster.Node
	// TLS of the replica's connection to NATS: the CA of the servers'
	// certificates and the replica's own certificate (cluster.Client).
	TLS cluster.TLSFiles
	// Replica names this replica (its leases, its NATS connection, its
	// logs); default the host name and process ID.
	Replica string
	// The uplink stream's replicas, partitions, acknowledgement wait and
	// bound (ingest.ClusterConfig; zero: its defaults).
	Replicas, Partitions int
	AckWait              time.Duration
	MaxBytes             int64
	// Recheck is how often edges' long polls read the database besides
	// being woken by a change on any replica; zero: fleet.DefaultRecheck.
	Recheck time.Duration
}

// DefaultRolloutEvery is how often the rollout controller runs: a step
// is judged within this of its edges' reports.
const DefaultRolloutEvery = 5 * time.Second

// Default retention. Raw points are what a factory engineer looks at
// closely, mostly within a few weeks; 90 days keep a quarter for
// comparisons and audits. Minute rollups draw any chart of up to a few
// weeks and are about 1/60 of the points: two years keep year-on-year
// comparisons. Hour rollups cost a few MB per series and year: forever.
const (
	DefaultRetentionRaw    = 90 * store.Day
	DefaultRetentionMinute = 730 * store.Day
	DefaultRetentionHour   = KeepForever
)

// KeepForever is a retention period of Config that keeps data forever.
const KeepForever time.Duration = -1

// Retention returns the default retention the config gives, with zero
// meaning forever as in store.Retention.
func (c Config) Retention() store.Retention {
	period := func(d, def time.Duration) time.Duration {
		if d == 0 {
			d = def
		}
		if d == KeepForever {
			return 0
		}
		return d
	}
	return store.Retention{
		Raw:    period(c.RetentionRaw, DefaultRetentionRaw),
		Minute: period(c.RetentionMinute, DefaultRetentionMinute),
		Hour:   period(c.RetentionHour, DefaultRetentionHour),
	}
}

// Rates are the hub's rate limits (token buckets): per client address
// (every route but the uplink), per organisation, per caller (an API
// token, a person), per edge (its uplinks) and per address for sign-ins.
type Rates struct {
	Address, Org, Caller, Edge, SignIn api.Rate
}

// DefaultRates leave a busy factory's dashboards and scripts room and stop
// a flood from one organisation or address before it slows the others:
// the figures are in docs/benchmarks.md.
var DefaultRates = Rates{
	Address: api.Rate{PerSecond: 200, Burst: 400},
	Org:     api.Rate{PerSecond: 100, Burst: 200},
	Caller:  api.Rate{PerSecond: 50, Burst: 100},
	Edge:    api.Rate{PerSecond: 50, Burst: 100},
	SignIn:  api.Rate{PerSecond: 0.2, Burst: 10},
}

// RefusalHold is the longest the hub holds the answer to a request its
// rate limits refused (until its bucket has a token again): a client
// that retries at once is paced instead of costing the hub thousands of
// refusals a second (api.Limits.Hold; figures in docs/benchmarks.md).
const RefusalHold = time.Second

func (r Rates) withDefaults() Rates {
	pick := func(v, def api.Rate) api.Rate {
		if v == (api.Rate{}) {
			return def
		}
		return v
	}
	return Rates{pick(r.Address, DefaultRates.Address), pick(r.Org, DefaultRates.Org), pick(r.Caller, DefaultRates.Caller),
		pick(r.Edge, DefaultRates.Edge), pick(r.SignIn, DefaultRates.SignIn)}
}

// Validate checks the config, naming the field at fault.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("hub.data: required")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("hub.tls: give both the certificate and the key")
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		return errors.New("hub.public_url: want http:// or https://")
	}
	if _, err := c.proxies(); err != nil {
		return err
	}
	if c.Store != "" && !strings.HasPrefix(c.Store, "postgres://") && !strings.HasPrefix(c.Store, "postgresql://") {
		return errors.New("hub.store: want empty (embedded) or a postgres:// URL")
	}
	if c.Cluster != nil {
		if c.Store == "" {
			return errors.New("hub.cluster: needs hub.store (PostgreSQL): replicas share it")
		}
		if len(c.Cluster.NATS) == 0 && c.Cluster.Node == nil {
			return errors.New("hub.cluster.nats: give the NATS servers' URLs, an embedded node, or both")
		}
		if c.Cluster.Node != nil {
			if err := c.Cluster.Node.Validate(); err != nil {
				return fmt.Errorf("hub.%w", err)
			}
		}
	}
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"retention_raw", c.RetentionRaw}, {"retention_minute", c.RetentionMinute}, {"retention_hour", c.RetentionHour}} {
		if p.d < 0 && p.d != KeepForever {
			return fmt.Errorf("hub.%s: %v is negative (use KeepForever to keep data forever)", p.name, p.d)
		}
	}
	if err := c.Retention().Validate(); err != nil {
		return fmt.Errorf("hub.retention: %w", err)
	}
	return nil
}

// proxies parses TrustedProxies: addresses or CIDR ranges.
func (c Config) proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range c.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("hub.trusted_proxies[%d]: %q: want an address or a CIDR range", i, s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Hub is a running hub.
type Hub struct {
	cfg   Config
	log   *slog.Logger
	meta  *meta.DB
	store store.Store

	auth    *auth.Service
	audit   *audit.Log
	limiter api.Limiter // in memory; in a cluster, shared in PostgreSQL
	fleet   *fleet.Service
	market  *market.Service
	prog    *programme.Service
	factory *factory.Service
	notify  *notify.Service
	series  *series.Service
	quota   *quota.Service
	ingest  *ingest.Service
	live    *live.Hub
	router  *api.Router
	lease   *meta.Lease // of the retention job
	srv     *http.Server
	ln      net.Listener
	done    chan error
	closers []func() error // in the order Close calls them

	stopNotify  context.CancelFunc
	notifyDone  chan struct{} // closed when the notification loop stopped
	notifyLease *jobLease

	stopRollouts  context.CancelFunc
	rolloutsDone  chan struct{} // closed when the rollout loop stopped
	rolloutsLease *jobLease

	stopRetention context.CancelFunc
	retentionDone chan struct{} // closed when the retention loop stopped
	retentionMu   sync.Mutex    // held by a retention run
	stopCompact   context.CancelFunc
	compactDone   chan struct{} // closed when the compaction loop stopped
	compactLease  *meta.Lease
	compacted     compactMetrics
	jobs          *jobMetrics

	nc          *nats.Conn         // nil: no cluster
	stopConsume context.CancelFunc // nil: no cluster
	consumeDone chan struct{}      // closed when the uplink's consumers stopped

	closeOnce sync.Once
	closeErr  error
}

// ErrAddrInUse is returned when the listen address is taken.
var ErrAddrInUse = errors.New("address already in use")

// Start opens storage, makes the domains, ensures the first organisation
// and admin token exist and starts serving. It returns once the listener
// is bound.
func Start(ctx context.Context, cfg Config) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	h := &Hub{cfg: cfg, log: cfg.Log, done: make(chan error, 1)}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen on %s: %w: another program (perhaps another molen) uses it; choose another address with --listen", cfg.Listen, ErrAddrInUse)
		}
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	h.ln = ln
	if err := h.open(ctx); err != nil {
		ln.Close()
		return nil, errors.Join(err, h.closeAll())
	}
	// Slow clients: the header within 10 s, the whole request within 2 min
	// (an uplink body of uplink.MaxBatchBytes on a slow link); no write
	// timeout, as exports stream for as long as they take.
	h.srv = &http.Server{
		Handler:           h.router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
	}
	if cfg.TLSCert != "" {
		h.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	// Live streams never end by themselves: they end when shutdown begins.
	h.srv.RegisterOnShutdown(h.live.Close)
	go func() {
		var err error
		if cfg.TLSCert != "" {
			err = h.srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			err = h.srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		h.done <- err
	}()
	backend := "embedded"
	if cfg.Store != "" {
		backend = "postgres"
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.stopRetention, h.retentionDone = cancel, make(chan struct{})
	go h.retentionLoop(rctx)
	cctx, ccancel := context.WithCancel(context.WithoutCancel(ctx))
	h.stopCompact, h.compactDone = ccancel, make(chan struct{})
	go h.compactLoop(cctx)
	nctx, ncancel := context.WithCancel(context.WithoutCancel(ctx))
	h.stopNotify, h.notifyDone = ncancel, make(chan struct{})
	go func() {
		defer close(h.notifyDone)
		h.notify.Run(nctx, h.notifyLease.hold)
	}()
	octx, ocancel := context.WithCancel(context.WithoutCancel(ctx))
	h.stopRollouts, h.rolloutsDone = ocancel, make(chan struct{})
	go func() {
		defer close(h.rolloutsDone)
		h.fleet.RunRollouts(octx, cmp.Or(cfg.RolloutEvery, DefaultRolloutEvery), h.rolloutsLease.hold)
	}()
	if cfg.Cluster != nil {
		ictx, icancel := context.WithCancel(context.WithoutCancel(ctx))
		h.stopConsume, h.consumeDone = icancel, make(chan struct{})
		go func() {
			defer close(h.consumeDone)
			_ = h.ingest.Consume(ictx)
		}()
		backend = "postgres, cluster replica " + h.lease.Holder
	}
	h.log.Info("hub started", "url", h.URL(), "data", cfg.DataDir, "store", backend)
	return h, nil
}

// open opens storage and the domains, bootstraps the first organisation
// and builds the router. What it opened, Close (or closeAll) closes.
func (h *Hub) open(ctx context.Context) error {
	cfg := h.cfg
	var err error
	if cfg.Store != "" {
		h.meta, err = meta.OpenPostgres(ctx, cfg.Store, cfg.StoreSchema)
	} else {
		h.meta, err = meta.OpenSQLite(ctx, filepath.Join(cfg.DataDir, MetaFile), meta.Options{Legacy: filepath.Join(cfg.DataDir, StoreFile)})
	}
	if err != nil {
		return fmt.Errorf("open metadata: %w", err)
	}
	h.closers = append(h.closers, h.meta.Close)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h.jobs = newJobMetrics(reg)
	var pg *postgres.Store
	if cfg.Store != "" {
		if pg, err = postgres.Open(ctx, cfg.Store, postgres.Options{Schema: cfg.StoreSchema}); err == nil {
			h.store = pg
		}
	} else {
		h.store, err = sqlite.Open(ctx, filepath.Join(cfg.DataDir, StoreFile), sqlite.Options{Logger: cfg.Log,
			Compacted: func(took time.Duration, err error) { h.jobs.ran(jobCompaction, cfg.Now(), took, err) }})
	}
	if err != nil {
		return fmt.Errorf("open storage: %w", err)
	}
	h.closers = append(h.closers, h.store.Close)
	reg.MustRegister(newStorageCollector(cfg.DataDir, pg))
	if cfg.TLSCert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("hub.tls: %w", err)
		}
		// What edges give as --hub-pin to accept this hub only.
		cfg.Log.Info("hub certificate", "pin", uplink.CertPin(pair.Leaf.RawSubjectPublicKeyInfo), "subject", pair.Leaf.Subject.String())
	}
	if h.audit, err = audit.New(ctx, h.meta, cfg.Now, cfg.Log.With("component", "audit")); err != nil {
		return err
	}
	rates := cfg.Rates.withDefaults()
	h.limiter = ratelimit.NewMemory()
	if cfg.Cluster != nil {
		// Replicas count together: a client is limited once, whichever
		// replicas it reaches.
		shared, err := ratelimit.NewPostgres(ctx, h.meta, cfg.Log.With("component", "ratelimit"))
		if err != nil {
			return err
		}
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "molen_hub_rate_limit_fallbacks_total",
			Help: "Rate-limit takes this replica answered from its own memory because PostgreSQL did not answer."},
			func() float64 { return float64(shared.Fallbacks()) }))
		h.limiter = shared
	}
	if h.auth, err = auth.New(ctx, auth.Config{DB: h.meta, Audit: h.audit, Log: cfg.Log.With("component", "auth"), Now: cfg.Now,
		Registry: reg, SessionIdle: cfg.SessionIdle, SessionMax: cfg.SessionMax, Limiter: h.limiter, SignInRate: rates.SignIn,
		PublicURL: h.PublicURL, OIDC: cfg.OIDC}); err != nil {
		return err
	}
	if h.fleet, err = fleet.New(ctx, h.meta, cfg.Log.With("component", "fleet"), cfg.Now, reg); err != nil {
		return err
	}
	h.fleet.RecordTo(h.audit)
	if cfg.Cluster != nil && cfg.Cluster.Recheck > 0 {
		h.fleet.SetRecheck(cfg.Cluster.Recheck)
	}
	if err := h.fleet.SetSecretsKey(filepath.Join(cfg.DataDir, SecretsKeyFile)); err != nil {
		return err
	}
	releases, err := blob.New(ctx, filepath.Join(cfg.DataDir, "releases"), h.meta)
	if err != nil {
		return err
	}
	h.fleet.SetReleases(fleet.ReleaseStore{Blobs: releases, Keys: cfg.ReleaseKeys})
	marketKey, err := market.LoadKey(filepath.Join(cfg.DataDir, MarketKeyFile))
	if err != nil {
		return err
	}
	if h.market, err = market.New(ctx, market.Config{DB: h.meta, Fleet: h.fleet, Audit: h.audit, Dir: filepath.Join(cfg.DataDir, "market"),
		Key: marketKey, Log: cfg.Log.With("component", "market"), Now: cfg.Now, Reg: reg, PublicURL: h.PublicURL}); err != nil {
		return err
	}
	h.fleet.SetServiceParts(h.market.ServiceParts)
	h.fleet.SetMarketKeys(h.market.PublicKey())
	if h.prog, err = programme.New(ctx, programme.Config{DB: h.meta, Audit: h.audit, HubOf: h.hubOf,
		Orgs: progOrgs{h.auth}, Connected: h.fleet.Connected, Evidence: h.evidence, Listings: marketListings{h.market}, Installs: h.installs, Log: cfg.Log.With("component", "programme"), Now: cfg.Now, Reg: reg,
		PublicURL: h.PublicURL, EmailOf: func(ctx context.Context, user string) (string, error) {
			u, err := h.auth.User(ctx, user)
			return u.Email, err
		}}); err != nil {
		return err
	}
	if h.quota, err = quota.New(ctx, quota.Config{Meta: h.meta, Store: h.store, Default: cfg.Quota, Audit: h.audit, Log: cfg.Log.With("component", "quota"),
		Now: cfg.Now, Registry: reg, OrgExists: func(ctx context.Context, org string) error { _, err := h.auth.Org(ctx, org); return err }}); err != nil {
		return err
	}
	if h.series, err = series.New(ctx, series.Config{Store: h.store, Meta: h.meta, DefaultRetention: cfg.Retention(), Audit: h.audit, Changed: h.quota.Forget,
		Log: cfg.Log, Now: cfg.Now, Registry: reg}); err != nil {
		return err
	}
	factorySvc, err := factory.New(ctx, factory.Config{DB: h.meta, Store: h.store, Audit: h.audit, Now: cfg.Now})
	if err != nil {
		return err
	}
	h.factory = factorySvc
	if h.ingest, err = ingest.New(h.store, 0, cfg.Log.With("component", "ingest"), reg); err != nil {
		return err
	}
	h.ingest.LimitBy(h.quota)
	h.closers = append(h.closers, func() error { h.ingest.Close(); return nil })
	if cfg.Cluster != nil {
		if err := h.joinCluster(ctx, reg); err != nil {
			return err
		}
	}
	h.live = live.New(live.Options{Registry: reg})
	reportsSvc := reports.New(h.store, cfg.Now)
	if h.notify, err = notify.New(ctx, notify.Config{DB: h.meta, Store: h.store, Factory: factorySvc, Fleet: h.fleet.Conditions, OEE: reportsSvc.MachinesOEE, Audit: h.audit,
		Log: cfg.Log.With("component", "notify"), Now: cfg.Now, Reg: reg, PublicURL: h.PublicURL, SMTP: cfg.SMTP, PrivateTargets: cfg.NotifyPrivateTargets}); err != nil {
		return err
	}
	if h.nc != nil {
		if err := h.shareLive(); err != nil {
			return err
		}
		if err := h.shareWakes(); err != nil {
			return err
		}
	} else {
		h.ingest.OnStored(func(org string, recs []store.Record) {
			h.live.PublishRecords(org, recs)
			h.notify.Observe(org, recs)
		})
	}
	if err := h.bootstrap(ctx); err != nil {
		return err
	}
	h.lease = &meta.Lease{DB: h.meta, Name: "retention", Holder: h.holder(), TTL: retentionLease}
	h.notifyLease = &jobLease{Lease: &meta.Lease{DB: h.meta, Name: "notify", Holder: h.lease.Holder, TTL: notifyLease}, now: cfg.Now, log: cfg.Log}
	h.rolloutsLease = &jobLease{Lease: &meta.Lease{DB: h.meta, Name: "rollouts", Holder: h.lease.Holder, TTL: notifyLease}, now: cfg.Now, log: cfg.Log}
	h.compactLease = &meta.Lease{DB: h.meta, Name: "compact", Holder: h.lease.Holder, TTL: compactLease}
	h.compacted = newCompactMetrics(reg)

	limited := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_rate_limited_total",
		Help: "Requests refused by a rate limit (429), by the bucket that refused them: address, org, caller, edge."}, []string{"by"})
	reg.MustRegister(limited)
	for _, by := range []string{"address", "org", "caller", "edge"} {
		limited.WithLabelValues(by)
	}
	h.router = &api.Router{Tokens: h.auth, Edges: h.fleet, EdgeRequests: h.fleet, Sessions: h.auth, Audit: h.audit, Log: cfg.Log.With("component", "api"),
		Limits: &api.Limits{Limiter: h.limiter, Address: rates.Address, Org: rates.Org, Caller: rates.Caller, EdgeID: rates.Edge,
			Now: cfg.Now, Limited: func(by string) { limited.WithLabelValues(by).Inc() }, Hold: RefusalHold}}
	h.router.TrustedProxies, _ = cfg.proxies() // checked by Validate
	h.router.Observe = newHTTPMetrics(reg).observe
	h.router.Handle(h.auth.Routes()...)
	h.router.Handle(h.audit.Routes()...)
	h.router.Handle(h.auth.Pages()...)
	h.router.Handle(h.fleet.Routes()...)
	h.router.Handle(h.prog.Routes()...)
	h.router.Handle(h.market.Routes()...)
	h.router.Handle(h.series.Routes()...)
	h.router.Handle(h.quota.Routes()...)
	h.router.Handle(reportsSvc.Routes()...)
	h.router.Handle(h.ingest.Routes()...)
	h.router.Handle(h.live.Routes()...)
	h.router.Handle(factorySvc.Routes()...)
	h.router.Handle(h.notify.Routes()...)
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	webUI := web.Handler()
	h.router.Handle(
		api.Route{Method: "GET", Path: "/healthz", Auth: api.Public, Stream: h.healthz},
		api.Route{Method: "GET", Path: "/metrics", Auth: api.Public, Stream: serve(metrics)},
		api.Route{Path: "/", Auth: api.Public, Stream: serve(webUI)},
	)
	return nil
}

// serve adapts a plain handler to a Stream route.
func serve(h http.Handler) func(http.ResponseWriter, *http.Request, api.Principal) error {
	return func(w http.ResponseWriter, r *http.Request, _ api.Principal) error {
		h.ServeHTTP(w, r)
		return nil
	}
}

// healthz answers "ok" while the metadata database answers.
func (h *Hub) healthz(w http.ResponseWriter, r *http.Request, _ api.Principal) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.meta.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: storage does not answer: %v", api.ErrUnavailable, err)
	}
	w.Header().Set("Content-Type", "text/plain")
	_, err := w.Write([]byte("ok\n"))
	return err
}

// holder names this hub process as a lease holder: by its replica name
// in a cluster.
func (h *Hub) holder() string {
	if h.cfg.Cluster != nil && h.cfg.Cluster.Replica != "" {
		return h.cfg.Cluster.Replica + "/" + secret.New("")[:8]
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), secret.New("")[:8])
}

// liveSubject carries what a replica's consumers stored to the live
// streams of every replica.
const liveSubject = "molen.live"

// shareLive has the records each replica's consumers store reach the live
// streams of every replica, over core NATS (at most once: a live view may
// miss what was stored while its replica was cut off, as it would across
// its own reconnection). Notifications stay with the replica that stored
// the records, so that each is sent once.
func (h *Hub) shareLive() error {
	h.ingest.OnStored(func(org string, recs []store.Record) {
		b := uplink.Batch{Stream: "live", Records: make([]uplink.RawRecord, len(recs))}
		for i, r := range recs {
			b.Records[i] = uplink.RawRecord{Seq: r.Seq, Data: uplink.EncodeRecord(nil, r.Points, r.Events)}
		}
		msg := &nats.Msg{Subject: liveSubject, Data: uplink.EncodeBatch(nil, b), Header: nats.Header{}}
		msg.Header.Set("Molen-Org", org)
		if err := h.nc.PublishMsg(msg); err != nil {
			h.log.Warn("live data not shared with the other replicas", "org", org, "err", err)
		}
		h.notify.Observe(org, recs)
	})
	_, err := h.nc.Subscribe(liveSubject, func(m *nats.Msg) {
		b, err := uplink.DecodeBatch(m.Data)
		if err != nil {
			h.log.Warn("live data from another replica undecodable", "err", err)
			return
		}
		recs := make([]store.Record, 0, len(b.Records))
		for _, r := range b.Records {
			pts, evs, err := uplink.DecodeRecord(nil, nil, r.Data)
			if err != nil {
				h.log.Warn("live data from another replica undecodable", "err", err)
				return
			}
			recs = append(recs, store.Record{Seq: r.Seq, Points: pts, Events: evs})
		}
		h.live.PublishRecords(m.Header.Get("Molen-Org"), recs)
	})
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", liveSubject, err)
	}
	return nil
}

// wakeSubject carries the keys (an organisation, an edge) whose desired
// state or commands changed on a replica to the long polls of the others.
const wakeSubject = "molen.wake"

// shareWakes has a change made through one replica wake the edges' long
// polls held by every replica at once, over core NATS. At most once: a
// wake lost while a replica is cut off from NATS is made up by the
// poll's next read of the database (fleet.DefaultRecheck).
func (h *Hub) shareWakes() error {
	origin := secret.New("")[:12] // this process, whose own wakes are done already
	h.fleet.ShareWakes(func(key string) {
		msg := &nats.Msg{Subject: wakeSubject, Data: []byte(key), Header: nats.Header{}}
		msg.Header.Set("Molen-Origin", origin)
		if err := h.nc.PublishMsg(msg); err != nil {
			h.log.Warn("wake not shared with the other replicas", "err", err)
		}
	})
	if _, err := h.nc.Subscribe(wakeSubject, func(m *nats.Msg) {
		if m.Header.Get("Molen-Origin") != origin {
			h.fleet.Woken(string(m.Data))
		}
	}); err != nil {
		return fmt.Errorf("subscribe to %s: %w", wakeSubject, err)
	}
	return nil
}

// joinCluster starts the embedded NATS node (if any), connects to the
// NATS cluster and has the uplink accept batches into its stream.
func (h *Hub) joinCluster(ctx context.Context, reg prometheus.Registerer) error {
	c := h.cfg.Cluster
	urls := c.NATS
	if c.Node != nil {
		ns, err := cluster.StartNode(*c.Node, h.log)
		if err != nil {
			return err
		}
		h.closers = append(h.closers, func() error { cluster.Shutdown(ns); return nil })
		urls = append([]string{cluster.ClientURL(ns)}, urls...)
	}
	name := cmp.Or(c.Replica, "molen-hub")
	nc, js, err := cluster.Client{URLs: urls, Name: name, TLS: c.TLS}.Connect(ctx, h.log.With("component", "cluster"))
	if err != nil {
		return err
	}
	h.closers = append(h.closers, func() error { nc.Close(); return nil })
	h.nc = nc
	if err := h.ingest.UseCluster(ctx, ingest.ClusterConfig{JS: js, Replicas: c.Replicas, Partitions: c.Partitions,
		AckWait: c.AckWait, MaxBytes: c.MaxBytes}, reg); err != nil {
		return err
	}
	return nil
}

// bootstrap creates the default organisation and its admin token on first
// start, in one transaction (auth.Service.Bootstrap). The token is written
// to the data directory before the commit and printed after it; only its
// hash is stored. Of hubs starting at once on one database, the one that
// creates the organisation shows the token.
func (h *Hub) bootstrap(ctx context.Context) error {
	path := filepath.Join(h.cfg.DataDir, AdminTokenFile)
	token, err := h.auth.Bootstrap(ctx, auth.Org{ID: DefaultOrg, Name: "Default organisation", Kind: auth.Company, Created: h.cfg.Now()},
		func(token string) error {
			if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
				return fmt.Errorf("write admin token: %w", err)
			}
			return nil
		})
	if err != nil {
		return err
	}
	if token != "" {
		fmt.Fprintf(h.cfg.Out, "molen hub: created admin token (also in %s):\n\n    %s\n\n", path, token)
	}
	return nil
}

// AdminToken reads the admin token the hub wrote on first start.
func (h *Hub) AdminToken() (string, error) {
	b, err := os.ReadFile(filepath.Join(h.cfg.DataDir, AdminTokenFile))
	if err != nil {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// CreateEdge registers an edge in the default organisation and returns its
// id and one-time enrollment token.
func (h *Hub) CreateEdge(ctx context.Context, name string) (id, token string, err error) {
	e, token, err := h.fleet.CreateEdge(ctx, DefaultOrg, name)
	if err != nil {
		return "", "", fmt.Errorf("create edge %q: %w", name, err)
	}
	return e.ID, token, nil
}

// Store returns the hub's time-series storage, for tests and the demo.
func (h *Hub) Store() store.Store { return h.store }

// Auth, Fleet and Series return the hub's domains, for tests and the demo.
func (h *Hub) Auth() *auth.Service { return h.auth }

// hubOf is the nearest hub above org ("" if none).
func (h *Hub) hubOf(ctx context.Context, org string) (string, error) {
	above, err := h.auth.Above(ctx, org)
	if err != nil {
		return "", err
	}
	for _, o := range above {
		if o.Kind == auth.Hub {
			return o.ID, nil
		}
	}
	return "", nil
}

// progOrgs is the organisation tree for the programme domain.
type progOrgs struct{ a *auth.Service }

func (o progOrgs) Org(ctx context.Context, id string) (name, kind, parent string, err error) {
	org, err := o.a.Org(ctx, id)
	return org.Name, string(org.Kind), org.Parent, err
}

func (o progOrgs) CreateOrgTx(ctx context.Context, tx *sql.Tx, id, name, kind, parent string) error {
	return o.a.CreateOrgTx(ctx, tx, auth.Org{ID: id, Name: name, Kind: auth.OrgKind(kind), Parent: parent})
}

// installs are a company's edges, by when they enrolled, and the
// marketplace services installed for it, for its journey.
func (h *Hub) installs(ctx context.Context, org string) ([]programme.Install, error) {
	edges, err := h.fleet.Edges(ctx, org)
	if err != nil {
		return nil, err
	}
	var out []programme.Install
	for _, e := range edges {
		if !e.Enrolled.IsZero() {
			out = append(out, programme.Install{At: e.Enrolled, Kind: programme.InstallEdge, What: e.Name})
		}
	}
	ins, err := h.market.Installs(ctx, org)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		out = append(out, programme.Install{At: in.Created, Kind: programme.InstallService, What: in.Name, Service: in.Service})
	}
	return out, nil
}

// marketListings are the marketplace's services with a released version
// (a revoked or only deprecated one is not recommended), as the
// programme's journeys recommend them.
type marketListings struct{ m *market.Service }

func (l marketListings) Listings(ctx context.Context) ([]programme.Listing, error) {
	ls, err := l.m.Catalogue(ctx, "", market.Filter{})
	if err != nil {
		return nil, err
	}
	var out []programme.Listing
	for _, x := range ls {
		if x.Latest == "" {
			continue
		}
		p := programme.Listing{ID: x.ID, NameEN: x.Name["en"], NameNL: x.Name["nl"], Category: x.Category, Dimensions: []string{}, Provider: x.Provider}
		for _, d := range x.Maturity {
			if id := programme.Dimension(d); id != "" {
				p.Dimensions = append(p.Dimensions, id)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// evidence is what molen measures of org's factory, for the programme:
// its edges, machines, series and days of data, and the marketplace
// services installed for it.
func (h *Hub) evidence(ctx context.Context, org string) (programme.Evidence, error) {
	var ev programme.Evidence
	edges, err := h.fleet.Edges(ctx, org)
	if err != nil {
		return ev, err
	}
	for _, e := range edges {
		if !e.Enrolled.IsZero() && !e.Revoked {
			ev.Edges++
		}
	}
	series, err := h.store.Series(ctx, org, "", 100_000)
	if err != nil {
		return ev, err
	}
	machines := map[string]bool{}
	var first, last int64
	for _, s := range series {
		if i := strings.LastIndexByte(s.Path, '/'); i > 0 {
			machines[s.Path[:i]] = true
		}
		if first == 0 || s.First < first {
			first = s.First
		}
		last = max(last, s.Last)
	}
	ev.Series, ev.Machines = len(series), len(machines)
	if len(series) > 0 {
		ev.First, ev.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		ev.Days = int(math.Ceil(ev.Last.Sub(ev.First).Hours() / 24))
	}
	ins, err := h.market.Installs(ctx, org)
	if err != nil {
		return ev, err
	}
	ev.Services = len(ins)
	return ev, nil
}

// Programme returns the programme domain.
func (h *Hub) Programme() *programme.Service { return h.prog }

// Market returns the hub's marketplace.
func (h *Hub) Market() *market.Service { return h.market }

// Fleet returns the fleet domain.
func (h *Hub) Fleet() *fleet.Service { return h.fleet }

// Tree makes organisations in the hub's tree (created at created) and
// records enrolled edges: what a generator of a synthetic programme
// (synth.Tree) needs, for the demo and tests.
type Tree struct {
	h       *Hub
	created time.Time
}

// Tree returns the hub's tree for a synthetic programme.
func (h *Hub) Tree(created time.Time) Tree { return Tree{h: h, created: created} }

// CreateOrg makes an organisation of kind under parent.
func (t Tree) CreateOrg(ctx context.Context, id, name, kind, parent string) error {
	return t.h.auth.CreateOrg(ctx, auth.Org{ID: id, Name: name, Kind: auth.OrgKind(kind), Parent: parent, Created: t.created})
}

// Connect records that org enrolled an edge at at (one that sends nothing).
func (t Tree) Connect(ctx context.Context, org string, at time.Time) error {
	return t.h.fleet.Insert(ctx, fleet.Edge{ID: "edge-" + org, Org: org, Name: "synthetic edge", Created: at, Enrolled: at})
}

// Quota returns the hub's quotas, for tests and the demo.
func (h *Hub) Quota() *quota.Service { return h.quota }

// Factory is the hub's factory domain: downtime reasons and alarm notes.
func (h *Hub) Factory() *factory.Service { return h.factory }

// Notify is the hub's notifications domain.
func (h *Hub) Notify() *notify.Service { return h.notify }

// Series returns the series domain.
func (h *Hub) Series() *series.Service { return h.series }

// Live returns the hub's fan-out of new data to live streams.
func (h *Hub) Live() *live.Hub { return h.live }

// Routes lists every route the hub serves, with who may call it.
func (h *Hub) Routes() []api.Route { return h.router.Routes() }

// Addr is the bound HTTP address.
func (h *Hub) Addr() string { return h.ln.Addr().String() }

// URL is the hub's base URL.
func (h *Hub) URL() string {
	if h.cfg.TLSCert != "" {
		return "https://" + h.Addr()
	}
	return "http://" + h.Addr()
}

// PublicURL is the hub's address as people reach it: Config.PublicURL, or
// URL.
func (h *Hub) PublicURL() string {
	if h.cfg.PublicURL != "" {
		return strings.TrimSuffix(h.cfg.PublicURL, "/")
	}
	return h.URL()
}

// AuditLog returns the hub's audit log.
func (h *Hub) AuditLog() *audit.Log { return h.audit }

// closeAll closes what open opened, the latest first.
func (h *Hub) closeAll() error {
	var errs []error
	for i := len(h.closers) - 1; i >= 0; i-- {
		errs = append(errs, h.closers[i]())
	}
	h.closers = nil
	return errors.Join(errs...)
}

// Close stops serving (waiting up to 10 s for requests in flight, so
// batches being stored finish and are acknowledged), gives up the
// retention lease and closes storage. Close may be called more than once.
func (h *Hub) Close() error {
	h.closeOnce.Do(func() {
		h.stopRetention()
		<-h.retentionDone
		h.stopCompact()
		<-h.compactDone
		h.stopNotify()
		<-h.notifyDone
		h.stopRollouts()
		<-h.rolloutsDone
		if h.stopConsume != nil {
			h.stopConsume()
			<-h.consumeDone
		}
		h.fleet.StopWaiting() // long polls answer now, not at their end
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srvErr := h.srv.Shutdown(ctx)
		runErr := <-h.done
		leaseErr := errors.Join(h.lease.Release(ctx), h.notifyLease.Release(ctx), h.rolloutsLease.Release(ctx), h.compactLease.Release(ctx))
		h.closeErr = errors.Join(srvErr, runErr, leaseErr, h.closeAll())
	})
	return h.closeErr
}
