package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/fleet"
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

// Config configures a hub.
type Config struct {
	DataDir string // required: embedded database and admin token
	// Store is where points and metadata live: "" for the embedded
	// database in DataDir, or a PostgreSQL URL (postgres://…).
	Store string
	// StoreSchema is the PostgreSQL schema (default "molen"), so several
	// hubs can share one database.
	StoreSchema string
	Listen      string       // HTTP address for API, UI and metrics; default DefaultListen
	Log         *slog.Logger // default: discard
	Out         io.Writer    // where the first-start admin token is printed; default os.Stdout

	// Retention of an organisation that has set none (see
	// store.Retention): raw points, minute and hour rollups. Zero means
	// the default (DefaultRetentionRaw, …); KeepForever keeps that kind
	// forever.
	RetentionRaw, RetentionMinute, RetentionHour time.Duration
}

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

// Validate checks the config, naming the field at fault.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("hub.data: required")
	}
	if c.Store != "" && !strings.HasPrefix(c.Store, "postgres://") && !strings.HasPrefix(c.Store, "postgresql://") {
		return errors.New("hub.store: want empty (embedded) or a postgres:// URL")
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

// openStore opens the configured backend.
func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	if cfg.Store != "" {
		return postgres.Open(ctx, cfg.Store, postgres.Options{Schema: cfg.StoreSchema})
	}
	return sqlite.Open(ctx, filepath.Join(cfg.DataDir, "molen.db"), sqlite.Options{Logger: cfg.Log})
}

// Hub is a running hub.
type Hub struct {
	cfg      Config
	log      *slog.Logger
	store    store.Store
	receiver *uplink.Receiver
	srv      *http.Server
	ln       net.Listener
	done     chan error

	stopRetention context.CancelFunc
	retentionDone chan struct{} // closed when the retention loop stopped

	closeOnce sync.Once
	closeErr  error
}

// ErrAddrInUse is returned when the listen address is taken.
var ErrAddrInUse = errors.New("address already in use")

// Start opens storage, ensures the first admin token exists and starts
// serving. It returns once the listener is bound.
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
	st, err := openStore(ctx, cfg)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("open storage: %w", err)
	}
	h.store = st
	if err := h.ensureAdmin(ctx); err != nil {
		st.Close()
		ln.Close()
		return nil, err
	}
	if h.receiver, err = uplink.NewReceiver(st); err != nil {
		st.Close()
		ln.Close()
		return nil, err
	}
	h.srv = &http.Server{
		Handler:           h.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // an uplink body of uplink.MaxBatchBytes on a slow link
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		err := h.srv.Serve(ln)
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
	h.log.Info("hub started", "url", h.URL(), "data", cfg.DataDir, "store", backend)
	return h, nil
}

func (h *Hub) handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a := &api.Server{
		Store:    h.store,
		Auth:     &auth.Authenticator{Meta: h.store},
		Receiver: h.receiver,
		Log:      h.log.With("component", "api"),

		DefaultRetention: h.cfg.Retention(),
	}
	a.Register(reg)
	mux := http.NewServeMux()
	mux.Handle("/api/", a.Handler())
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := h.store.Org(ctx, DefaultOrg); err != nil && !errors.Is(err, store.ErrNotFound) {
			h.log.Error("health check: storage does not answer", "err", err)
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("/", web.Handler())
	return mux
}

// ensureAdmin creates the default organisation and its admin token on first
// start. The token is written to the data directory and printed once; only
// its hash is stored.
func (h *Hub) ensureAdmin(ctx context.Context) error {
	_, err := h.store.Org(ctx, DefaultOrg)
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("look up default organisation: %w", err)
	}
	now := time.Now()
	token := auth.NewSecret(auth.PrefixToken)
	// Write the file before storing the hash: if we crash in between, the
	// next start makes a new token rather than leaving one nobody knows.
	path := filepath.Join(h.cfg.DataDir, AdminTokenFile)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("write admin token: %w", err)
	}
	if err := h.store.CreateToken(ctx, store.Token{Hash: auth.Hash(token), Org: DefaultOrg, Role: store.Admin, Name: "admin", Created: now}); err != nil {
		return fmt.Errorf("store admin token: %w", err)
	}
	if err := h.store.CreateOrg(ctx, store.Org{ID: DefaultOrg, Name: "Default organisation", Kind: store.Company, Created: now}); err != nil {
		return fmt.Errorf("create default organisation: %w", err)
	}
	fmt.Fprintf(h.cfg.Out, "molen hub: created admin token (also in %s):\n\n    %s\n\n", path, token)
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
	e, token, err := fleet.CreateEdge(ctx, h.store, DefaultOrg, name, time.Now())
	if err != nil {
		return "", "", fmt.Errorf("create edge %q: %w", name, err)
	}
	return e.ID, token, nil
}

// Store returns the hub's storage, for tests and the demo.
func (h *Hub) Store() store.Store { return h.store }

// Addr is the bound HTTP address.
func (h *Hub) Addr() string { return h.ln.Addr().String() }

// URL is the hub's base URL.
func (h *Hub) URL() string { return "http://" + h.Addr() }

// Close stops serving (waiting up to 10 s for requests in flight, so
// batches being stored finish and are acknowledged) and closes storage.
// Close may be called more than once.
func (h *Hub) Close() error {
	h.closeOnce.Do(func() {
		h.stopRetention()
		<-h.retentionDone
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srvErr := h.srv.Shutdown(ctx)
		runErr := <-h.done
		h.receiver.Close()
		h.closeErr = errors.Join(srvErr, runErr, h.store.Close())
	})
	return h.closeErr
}
