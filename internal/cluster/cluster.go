package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/molen-io/molen/internal/uplink"
)

// Name is the NATS cluster name of embedded nodes.
const Name = "molen"

// MaxPayload is the largest NATS message embedded nodes accept: an uplink
// batch body (uplink.MaxBatchBytes) with room for its headers. A cluster
// of NATS servers run apart needs max_payload of at least this.
const MaxPayload = uplink.MaxBatchBytes + 64<<10

// Node configures an embedded NATS server with JetStream.
type Node struct {
	Name string // server name, unique in the cluster
	// Listen is the client address (host:port; port 0: any free port).
	Listen string
	// ClusterListen is the address of the cluster's routes (host:port);
	// empty: a node on its own, without peers.
	ClusterListen string
	// Routes are the other nodes' cluster addresses (host:port or
	// nats-route://host:port).
	Routes []string
	// Advertise is the route address this node tells the other nodes
	// (and they tell each other) to reach it at; empty: the address it
	// listens on. Behind a proxy or NAT, that address.
	Advertise string
	// NoAdvertise keeps the node from telling its clients the other
	// nodes' client addresses: a client reaches only the servers it was
	// given.
	NoAdvertise bool
	Dir         string // JetStream's store directory
	// SyncAlways has JetStream fsync every write before it acknowledges
	// it; otherwise it fsyncs every SyncInterval (default 2 minutes).
	SyncAlways   bool
	SyncInterval time.Duration
	// TLS, if its Cert is set, is the node's certificate for clients and
	// routes alike, and its CA the authority whose certificates the node
	// requires of both: a client without one (anyone else on the network,
	// who could otherwise publish onto the uplink stream) and a node with
	// another are refused. The certificate must name every host peers
	// dial (the route addresses' and clients' host names) and 127.0.0.1,
	// by which the replica reaches its own node.
	TLS TLSFiles
}

// TLSFiles names the PEM files of a TLS identity and of the authority
// that vouches for the other side. Only the paths are ever logged.
type TLSFiles struct {
	Cert, Key string // certificate (with its chain) and private key
	CA        string // CA certificates to verify the peer with
}

func (f TLSFiles) set() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

func (f TLSFiles) validate(field string) error {
	if (f.Cert == "") != (f.Key == "") {
		return fmt.Errorf("%s: a certificate needs its key and a key its certificate", field)
	}
	return nil
}

// Validate checks n, naming the field at fault.
func (n Node) Validate() error {
	if n.Name == "" {
		return errors.New("cluster.node.name: required")
	}
	if n.Dir == "" {
		return errors.New("cluster.node.dir: required")
	}
	if _, _, err := net.SplitHostPort(n.Listen); err != nil {
		return fmt.Errorf("cluster.node.listen: %q: %w", n.Listen, err)
	}
	if err := n.TLS.validate("cluster.node.tls"); err != nil {
		return err
	}
	if n.TLS.set() && n.TLS.Cert == "" {
		return errors.New("cluster.node.tls: a CA without the node's certificate and key")
	}
	if n.TLS.Cert != "" && n.TLS.CA == "" {
		return errors.New("cluster.node.tls.ca: required with the node's certificate (it verifies clients' and routes' certificates)")
	}
	if n.ClusterListen == "" {
		if len(n.Routes) > 0 {
			return errors.New("cluster.node.routes: need cluster.node.cluster_listen")
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(n.ClusterListen); err != nil {
		return fmt.Errorf("cluster.node.cluster_listen: %q: %w", n.ClusterListen, err)
	}
	for i, r := range n.Routes {
		if _, err := routeURL(r); err != nil {
			return fmt.Errorf("cluster.node.routes[%d]: %w", i, err)
		}
	}
	return nil
}

func routeURL(r string) (*url.URL, error) {
	if !strings.Contains(r, "://") {
		r = "nats-route://" + r
	}
	u, err := url.Parse(r)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q: want host:port", r)
	}
	return u, nil
}

func hostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return h, port, nil
}

// tlsTimeout is how long (seconds) a node waits for a TLS handshake; NATS's
// default of half a second is short for a loaded machine.
const tlsTimeout = 5

// serverConfig is the TLS configuration of a node whose peers must show a
// certificate of f.CA; it verifies its own routes' servers with f.CA too.
func (f TLSFiles) serverConfig() (*tls.Config, error) {
	c, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: f.Cert, KeyFile: f.Key, CaFile: f.CA, Verify: true, Timeout: tlsTimeout})
	if err != nil {
		return nil, err
	}
	// GenTLSConfig trusts the CA for the peers that connect (ClientCAs);
	// a node dialling a route is the client and verifies with RootCAs.
	c.RootCAs = c.ClientCAs
	return c, nil
}

// Shutdown stops the embedded node s gracefully: the leaders of the
// stream and consumers it holds move to other nodes first (NATS's lame
// duck mode), so that the cluster does not wait for an election.
func Shutdown(s *server.Server) {
	s.LameDuckShutdown()
	s.WaitForShutdown()
}

// ClientURL is the URL by which a replica reaches its own embedded node:
// the node's client address, 127.0.0.1 for an unspecified host (a node
// listening on 0.0.0.0), which its certificate names.
func ClientURL(s *server.Server) string {
	u, err := url.Parse(s.ClientURL())
	if err != nil {
		return s.ClientURL()
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	}
	return u.String()
}

// StartNode starts the embedded NATS server n and waits until it accepts
// clients (not until its JetStream cluster has a leader: connecting
// replicas wait for that). Shutdown and WaitForShutdown stop it.
func StartNode(n Node, log *slog.Logger) (*server.Server, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	host, port, err := hostPort(n.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster.node.listen: %w", err)
	}
	opts := &server.Options{
		ServerName: n.Name, Host: host, Port: port,
		JetStream: true, StoreDir: n.Dir,
		MaxPayload: MaxPayload, NoSigs: true, NoLog: log == nil,
		SyncAlways: n.SyncAlways, SyncInterval: n.SyncInterval,
	}
	if n.TLS.Cert != "" {
		// Two configurations: the server keeps its own of each.
		if opts.TLSConfig, err = n.TLS.serverConfig(); err != nil {
			return nil, fmt.Errorf("nats node %s: clients' TLS: %w", n.Name, err)
		}
		opts.TLS, opts.TLSVerify, opts.TLSTimeout = true, true, tlsTimeout
	}
	if n.ClusterListen != "" {
		ch, cp, err := hostPort(n.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("cluster.node.cluster_listen: %w", err)
		}
		opts.Cluster = server.ClusterOpts{Name: Name, Host: ch, Port: cp, Advertise: n.Advertise, NoAdvertise: n.NoAdvertise}
		if n.TLS.Cert != "" {
			if opts.Cluster.TLSConfig, err = n.TLS.serverConfig(); err != nil {
				return nil, fmt.Errorf("nats node %s: routes' TLS: %w", n.Name, err)
			}
			opts.Cluster.TLSTimeout = tlsTimeout
		}
		for _, r := range n.Routes {
			u, _ := routeURL(r) // checked by Validate
			opts.Routes = append(opts.Routes, u)
		}
	}
	// A stopping node first hands the leadership of the stream and its
	// consumers to the others (Shutdown: lame duck mode), then closes its
	// clients over a few seconds, which reconnect elsewhere.
	opts.LameDuckDuration, opts.LameDuckGracePeriod = 5*time.Second, time.Second
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats node %s: %w", n.Name, err)
	}
	if log != nil {
		s.SetLoggerV2(logger{log.With("component", "nats", "node", n.Name)}, false, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats node %s: not ready for connections within 30 s", n.Name)
	}
	return s, nil
}

// Client is how a hub replica connects to the NATS cluster.
type Client struct {
	URLs []string // nats://host:4222 or tls://host:4222
	Name string   // the connection's name, shown by the servers
	// TLS: CA verifies the servers' certificates (empty: the system's
	// roots, for tls:// URLs); Cert and Key are the replica's own, for
	// servers that require one (embedded nodes with TLS do).
	TLS TLSFiles
}

// Connect connects to the NATS servers at urls (a replica of the hub) and
// waits until JetStream answers, as Client.Connect does.
func Connect(ctx context.Context, urls []string, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	return Client{URLs: urls, Name: name}.Connect(ctx, log)
}

// Connect connects to the NATS servers (a replica of the hub) and waits
// until JetStream answers, so that a cluster still electing its leader
// delays the start rather than failing it. A TLS failure does not get
// better by waiting: a certificate the client does not trust, or one the
// server refuses, ends the wait with an error saying so. The connection
// reconnects for ever; closing it is the caller's.
func (c Client) Connect(ctx context.Context, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if len(c.URLs) == 0 {
		return nil, nil, errors.New("cluster.nats: give the NATS servers' URLs or an embedded node")
	}
	if err := c.TLS.validate("cluster.nats.tls"); err != nil {
		return nil, nil, err
	}
	var lastErr atomic.Pointer[error]
	opts := []nats.Option{nats.Name(c.Name), nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true), nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { lastErr.Store(&err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("reconnected to NATS", "server", c.ConnectedUrlRedacted()) })}
	if c.TLS.CA != "" {
		opts = append(opts, nats.RootCAs(c.TLS.CA))
	}
	if c.TLS.Cert != "" {
		opts = append(opts, nats.ClientCert(c.TLS.Cert, c.TLS.Key))
	}
	nc, err := nats.Connect(strings.Join(c.URLs, ","), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS %s: %w", redacted(c.URLs), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := js.AccountInfo(actx)
		cancel()
		if err == nil {
			return nc, js, nil
		}
		if p := lastErr.Load(); p != nil && isTLSRefusal(*p) {
			nc.Close()
			return nil, nil, fmt.Errorf("connect to NATS %s: TLS: %w (check the CA, certificate and key)", redacted(c.URLs), *p)
		}
		log.Info("waiting for the NATS cluster's JetStream", "err", err)
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, nil, fmt.Errorf("wait for JetStream at %s: %w", redacted(c.URLs), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// isTLSRefusal reports whether err is a TLS failure that retrying cannot
// mend: the server's certificate not trusted or not for its name, the
// client's refused by the server, or TLS on one side only.
func isTLSRefusal(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		alert    tls.AlertError
	)
	return errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verify) || errors.As(err, &alert) ||
		errors.Is(err, nats.ErrSecureConnRequired) || errors.Is(err, nats.ErrSecureConnWanted) ||
		errors.Is(err, nats.ErrClientCertOrRootCAsRequired) ||
		// A server that requires a client certificate closes a handshake
		// without one with an alert that TLS 1.3 reports as this text.
		strings.Contains(err.Error(), "remote error: tls:")
}

// redacted lists urls with their passwords masked, for logs and errors.
func redacted(urls []string) string {
	out := make([]string, len(urls))
	for i, s := range urls {
		if u, err := url.Parse(s); err == nil {
			s = u.Redacted()
		}
		out[i] = s
	}
	return strings.Join(out, ",")
}

// logger passes the NATS server's log to slog.
type logger struct{ l *slog.Logger }

func (l logger) Noticef(format string, v ...any) { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l logger) Warnf(format string, v ...any)   { l.l.Warn(fmt.Sprintf(format, v...)) }
func (l logger) Fatalf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l logger) Errorf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l logger) Debugf(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l logger) Tracef(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
