package httpin

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	connector.Register(connector.Spec{
		Name: "http",
		Doc:  "receive points that devices and scripts POST, acknowledged once durable",
		New:  func() connector.Config { return NewConfig() },
		Build: func(cfg connector.Config, log *slog.Logger) (connector.Input, error) {
			c, ok := cfg.(*Config)
			if !ok {
				return nil, fmt.Errorf("http: config is %T, want *httpin.Config", cfg)
			}
			return New(c, log)
		},
	})
}

// Reasons under which Status.Rejected counts requests, besides the
// payload reasons of uns (not_json, invalid_path, oversized, …).
const (
	ReasonUnauthorized = "unauthorized" // no or wrong credentials
	ReasonBadRequest   = "bad_request"  // wrong method, a line without a series
)

// Input listens for points.
type Input struct {
	cfg    Config
	log    *slog.Logger
	status *connector.Tracker
	tls    *tls.Config
	ran    atomic.Bool

	mu   sync.Mutex // guards addr
	addr net.Addr
}

// New returns an input listening on cfg.Listen once it runs.
func New(cfg *Config, log *slog.Logger) (*Input, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &Input{cfg: *cfg, log: log.With("peer", cfg.Listen)}
	if cfg.Token == "" && cfg.Username == "" {
		in.log.Warn("http input without token or username: anyone who reaches " + cfg.Listen + " may post points")
	}
	in.status = connector.NewTracker(cfg.Listen, in.log)
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file: %w", err)
		}
		in.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return in, nil
}

// Status reports the input's health.
func (in *Input) Status() connector.Status { return in.status.Status() }

// Addr is the address the input listens on; nil when it does not.
func (in *Input) Addr() net.Addr {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.addr
}

// Run listens until ctx ends; if the address is taken it retries with
// back-off. Requests in progress when ctx ends are answered 503.
func (in *Input) Run(ctx context.Context, sink connector.Sink) error {
	if !in.ran.CompareAndSwap(false, true) {
		return errors.New("http: Run called twice")
	}
	defer in.status.SetState(connector.Stopped)
	connector.Reconnect(ctx, in.status, "listener", in.cfg.BackoffMin, in.cfg.BackoffMax,
		func(ctx context.Context) (bool, error) { return in.serve(ctx, sink) })
	return nil
}

func (in *Input) serve(ctx context.Context, sink connector.Sink) (bool, error) {
	ln, err := net.Listen("tcp", in.cfg.Listen)
	if err != nil {
		return false, err
	}
	if in.tls != nil {
		ln = tls.NewListener(ln, in.tls)
	}
	in.mu.Lock()
	in.addr = ln.Addr()
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		in.addr = nil
		in.mu.Unlock()
	}()
	in.status.SetPeer(ln.Addr().String())
	mux := http.NewServeMux()
	h := &handler{in: in, sink: sink}
	mux.Handle(strings.TrimSuffix(in.cfg.Path, "/")+"/", h) // the batches, and a series below
	if in.cfg.Path != "/" {
		mux.Handle(in.cfg.Path, h)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       in.cfg.ReadTimeout,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(in.log.Handler(), slog.LevelDebug),
	}
	in.status.Connected("tls", in.tls != nil)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return true, err
	case <-ctx.Done():
	}
	// The requests' contexts ended with ctx: their writes return at once.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return true, ctx.Err()
}

// handler answers the posts of points.
type handler struct {
	in   *Input
	sink connector.Sink
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in := h.in
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(w, http.StatusMethodNotAllowed, ReasonBadRequest, "method "+r.Method+": want POST")
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="molen", Basic realm="molen"`)
		h.reject(w, http.StatusUnauthorized, ReasonUnauthorized, "missing or wrong credentials from "+r.RemoteAddr)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, in.cfg.MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.reject(w, http.StatusRequestEntityTooLarge, uns.ReasonOversized, fmt.Sprintf("body larger than max_body %d bytes", in.cfg.MaxBody))
			return
		}
		h.reject(w, http.StatusBadRequest, ReasonBadRequest, "read body: "+err.Error())
		return
	}
	now := time.Now().UnixNano()
	var pts []uns.Point
	base := strings.TrimSuffix(in.cfg.Path, "/")
	if series := strings.TrimPrefix(r.URL.Path, base+"/"); series != r.URL.Path && series != "" {
		pts, err = h.decode(nil, series, body, now)
	} else {
		pts, err = h.lines(body, now)
	}
	if err != nil {
		reason := uns.ReasonOf(err)
		if reason == "" {
			reason = ReasonBadRequest
		}
		h.reject(w, http.StatusBadRequest, reason, err.Error())
		return
	}
	if len(pts) > 0 {
		if err := h.sink.Write(r.Context(), pts); err != nil {
			in.status.SetError(fmt.Sprintf("deliver %d points: %v", len(pts), err))
			w.Header().Set("Retry-After", "1")
			http.Error(w, "the edge cannot store the points now; retry", http.StatusServiceUnavailable)
			return
		}
		in.status.AddPoints(int64(len(pts)))
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) decode(dst []uns.Point, series string, payload []byte, now int64) ([]uns.Point, error) {
	if h.in.cfg.Text {
		return uns.DecodeText(dst, series, payload, now)
	}
	return uns.Decode(dst, series, payload, now)
}

// lines decodes a batch: one "<series> <payload>" a line, blank lines
// skipped. Any bad line rejects the whole batch.
func (h *handler) lines(body []byte, now int64) ([]uns.Point, error) {
	var pts []uns.Point
	for n := 1; len(body) > 0; n++ {
		line, rest, _ := bytes.Cut(body, []byte("\n"))
		body = rest
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		series, payload, ok := bytes.Cut(line, []byte(" "))
		if !ok {
			return nil, fmt.Errorf("line %d: want \"<series> <payload>\"", n)
		}
		var err error
		if pts, err = h.decode(pts, string(series), bytes.TrimSpace(payload), now); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	return pts, nil
}

// authorized checks the request's credentials in constant time.
func (h *handler) authorized(r *http.Request) bool {
	c := &h.in.cfg
	if c.Token == "" && c.Username == "" {
		return true
	}
	auth := r.Header.Get("Authorization")
	if c.Token != "" {
		if tok, ok := strings.CutPrefix(auth, "Bearer "); ok && subtle.ConstantTimeCompare([]byte(tok), []byte(c.Token)) == 1 {
			return true
		}
	}
	if c.Username != "" {
		if u, p, ok := r.BasicAuth(); ok {
			uok := subtle.ConstantTimeCompare([]byte(u), []byte(c.Username))
			pok := subtle.ConstantTimeCompare([]byte(p), []byte(c.Password))
			return uok&pok == 1
		}
	}
	return false
}

// reject answers a request the input refuses and counts it.
func (h *handler) reject(w http.ResponseWriter, code int, reason, msg string) {
	h.in.status.Reject(reason, msg)
	http.Error(w, reason+": "+msg, code)
}
