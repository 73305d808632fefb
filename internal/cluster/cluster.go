package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
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
	if n.ClusterListen != "" {
		ch, cp, err := hostPort(n.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("cluster.node.cluster_listen: %w", err)
		}
		opts.Cluster = server.ClusterOpts{Name: Name, Host: ch, Port: cp, Advertise: n.Advertise, NoAdvertise: n.NoAdvertise}
		for _, r := range n.Routes {
			u, _ := routeURL(r) // checked by Validate
			opts.Routes = append(opts.Routes, u)
		}
	}
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

// Connect connects to the NATS servers at urls (a replica of the hub) and
// waits until JetStream answers, so that a cluster still electing its
// leader delays the start rather than failing it. The connection
// reconnects for ever; closing it is the caller's.
func Connect(ctx context.Context, urls []string, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if len(urls) == 0 {
		return nil, nil, errors.New("cluster.nats: give the NATS servers' URLs or an embedded node")
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.Name(name), nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true), nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("reconnected to NATS", "server", c.ConnectedUrlRedacted()) }))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS %s: %w", redacted(urls), err)
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
		log.Info("waiting for the NATS cluster's JetStream", "err", err)
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, nil, fmt.Errorf("wait for JetStream at %s: %w", redacted(urls), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
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
