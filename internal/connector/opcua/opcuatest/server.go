// Package opcuatest runs an OPC UA server in-process for tests and the
// simulated factory: the gopcua server (anonymous only; security None, see
// Options.Security) on an
// ephemeral port of 127.0.0.1, with variables in namespace 1 whose values a
// test sets, and which it can stop and start again on the same address as a
// machine that is switched off and on.
//
// The variables can be browsed: a name with '/' places the variable in
// folders. "Line1/Mill2/Temp" is the variable ns=1;s=Line1/Mill2/Temp,
// browse name Temp, a component of the folder ns=1;s=Line1/Mill2 (browse
// name Mill2), which the folder ns=1;s=Line1 organizes, which the Plant
// folder (ns=1;i=85) organizes, which the server's Objects folder (i=85)
// organizes. Variables without '/' are components of Plant.
package opcuatest

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/server/attrs"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"

	"github.com/molen-io/molen/internal/connector/connectortest/tcpproxy"
	"github.com/molen-io/molen/internal/connector/opcua"
)

// Options change how the server behaves.
type Options struct {
	// NoSubscriptions makes the server refuse CreateSubscription with
	// BadServiceUnsupported, as servers without the subscription service
	// set (some embedded ones) do.
	NoSubscriptions bool
	// Security makes the server offer Sign and SignAndEncrypt with
	// Basic256Sha256 besides None, with a certificate of its own
	// (Certificate) for application URI urn:molen:opcuatest, so that a
	// client's endpoint selection and trust check can be tested. The gopcua
	// server (v0.8.0) cannot open a secure channel (its channels stay in
	// mode None and do not decrypt a client's OpenSecureChannel), so a
	// secure connection then times out.
	Security bool
}

// ApplicationURI is the test server's application URI.
const ApplicationURI = "urn:molen:opcuatest"

// Server is an OPC UA server on 127.0.0.1. Its variables keep their values
// across Stop and Start, but a restart is a new server process as far as
// a client can tell: sessions and subscriptions are gone.
//
// Clients reach the gopcua server through a proxy on the server's address:
// the gopcua server's Close does not close its clients' connections (it
// sends them a CloseSecureChannel request and waits up to 10 s for them to
// hang up), while a machine that is switched off ends them at once. Stop
// cuts them at the proxy.
type Server struct {
	opts  Options
	host  string
	port  int
	front *tcpproxy.Proxy // on host:port; nil while stopped
	cert  []byte          // DER, with Options.Security
	key   *rsa.PrivateKey

	mu      sync.Mutex // guards the fields below
	srv     *server.Server
	ns      *server.NodeNameSpace
	folders map[string]*server.Node // of ns, by path; "" is Plant
	cancel  context.CancelFunc
	names   []string                 // variables in the order they were added
	values  map[string]*ua.DataValue // by name; never mutated once stored
}

// NewServer starts a server on an ephemeral port of 127.0.0.1.
func NewServer(opts Options) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, host: "127.0.0.1", port: port, values: make(map[string]*ua.DataValue)}
	if opts.Security {
		if s.cert, s.key, err = opcua.NewCertificate(ApplicationURI, []string{s.host}, 24*time.Hour, time.Now()); err != nil {
			return nil, fmt.Errorf("opcuatest: %w", err)
		}
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Certificate is the server's certificate (DER) with Options.Security, the
// same across Stop and Start; nil without.
func (s *Server) Certificate() []byte { return s.cert }

// freePort returns a port of 127.0.0.1 that is free now. The gopcua server
// needs its port up front to advertise its endpoint URL and does not report
// the port it bound to, so take a free one from the kernel and hand it
// over; the window in which another process could take it is a few
// microseconds.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URL is the server's endpoint, opc.tcp://127.0.0.1:port.
func (s *Server) URL() string { return fmt.Sprintf("opc.tcp://%s:%d", s.host, s.port) }

// NodeID is the NodeID of variable name, "ns=1;s=name".
func (s *Server) NodeID(name string) string { return nodeID(name).String() }

func nodeID(name string) *ua.NodeID { return ua.NewStringNodeID(1, name) }

// Set gives variable name (added if new) the value v with status Good and
// a source timestamp of now. v is a Go value of an OPC UA built-in type:
// bool, int8…int64, uint8…uint64, float32, float64, string, []byte,
// time.Time, ….
func (s *Server) Set(name string, v any) {
	s.SetDataValue(name, &ua.DataValue{
		EncodingMask:    ua.DataValueValue | ua.DataValueSourceTimestamp | ua.DataValueServerTimestamp,
		Value:           ua.MustVariant(v),
		SourceTimestamp: time.Now(),
		ServerTimestamp: time.Now(),
	})
}

// SetStatus gives variable name (added if new) the value v with status sc;
// v may be nil for a status without a value, as servers send for Bad.
func (s *Server) SetStatus(name string, v any, sc ua.StatusCode) {
	dv := &ua.DataValue{
		EncodingMask:    ua.DataValueStatusCode | ua.DataValueServerTimestamp,
		Status:          sc,
		ServerTimestamp: time.Now(),
	}
	if v != nil {
		dv.EncodingMask |= ua.DataValueValue
		dv.Value = ua.MustVariant(v)
	}
	s.SetDataValue(name, dv)
}

// SetDataValue gives variable name (added if new) the data value dv and
// notifies the monitored items of the node. dv must not be changed later.
func (s *Server) SetDataValue(name string, dv *ua.DataValue) {
	s.mu.Lock()
	_, known := s.values[name]
	s.values[name] = dv
	if !known {
		s.names = append(s.names, name)
		if s.ns != nil {
			s.addNode(name)
		}
	}
	srv := s.srv
	s.mu.Unlock()
	if srv != nil && srv.MonitoredItemService != nil {
		srv.ChangeNotification(nodeID(name))
	}
}

// addNode adds variable name, and the folders its name puts it in, to the
// running server; s.mu is held. The value is read through s.values at
// every read, so that setting it is safe while the server serves clients.
//
// The gopcua server does not lock a node's references against a
// concurrent Browse: a variable added while a client browses may race, so
// tests add the variables they browse before the client connects (or
// while the server is stopped).
func (s *Server) addNode(name string) {
	dir, base := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir, base = name[:i], name[i+1:]
	}
	v := server.NewVariableNode(nodeID(name), base, func() *ua.DataValue {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.values[name]
	})
	// Link before AddNode: its lock orders the link before later browses.
	s.folder(dir).AddRef(v, id.HasComponent, true)
	s.ns.AddNode(v)
}

// folder returns the folder at path, made (with its parents) if new; s.mu
// is held.
func (s *Server) folder(path string) *server.Node {
	if f, ok := s.folders[path]; ok {
		return f
	}
	parent, base := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		parent, base = path[:i], path[i+1:]
	}
	f := server.NewNode(nodeID(path), map[ua.AttributeID]*ua.DataValue{
		ua.AttributeIDNodeClass:     server.DataValueFromValue(uint32(ua.NodeClassObject)),
		ua.AttributeIDBrowseName:    server.DataValueFromValue(attrs.BrowseName(base)),
		ua.AttributeIDDisplayName:   server.DataValueFromValue(attrs.DisplayName(base, base)),
		ua.AttributeIDEventNotifier: server.DataValueFromValue(int16(0)),
	}, nil, nil)
	s.folder(parent).AddRef(f, id.Organizes, true)
	s.ns.AddNode(f)
	s.folders[path] = f
	return f
}

// Start starts a stopped server on its address, with its variables.
//
// Its ports are free when chosen, but on a busy machine another process's
// outgoing connection can take one (they come from the same ephemeral
// range) between a Stop and the next Start: a port in use is tried again
// for up to ten seconds, as a machine that restarts would.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("opcuatest: server already running")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.start()
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) && !strings.Contains(err.Error(), "address already in use") || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// start is one attempt of Start; s.mu is held.
func (s *Server) start() error {
	// The gopcua server listens on a port of its own behind the proxy (the
	// first endpoint) and advertises the proxy's too, which is the one its
	// clients ask for the endpoints of.
	back, err := freePort()
	if err != nil {
		return err
	}
	opts := []server.Option{
		server.EndPoint(s.host, back),
		server.EndPoint(s.host, s.port),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.SetLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}
	if s.cert != nil {
		opts = append(opts,
			server.Certificate(s.cert), server.PrivateKey(s.key),
			server.EnableSecurity("Basic256Sha256", ua.MessageSecurityModeSign),
			server.EnableSecurity("Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt),
		)
	}
	srv := server.New(opts...)
	if s.opts.NoSubscriptions {
		// Handlers registered before Start take precedence.
		srv.RegisterHandler(id.CreateSubscriptionRequest_Encoding_DefaultBinary,
			func(*uasc.SecureChannel, ua.Request, uint32) (ua.Response, error) {
				return nil, ua.StatusBadServiceUnsupported
			})
	}
	ns := server.NewNodeNameSpace(srv, "urn:molen:opcuatest")
	plant := ns.Objects()
	plant.SetBrowseName("Plant")
	plant.SetDisplayName("Plant", "")
	ns0, err := srv.Namespace(0)
	if err != nil {
		return fmt.Errorf("opcuatest: %w", err)
	}
	ns0.Objects().AddRef(plant, id.Organizes, true)
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		return fmt.Errorf("start OPC UA server on %s: %w", s.URL(), err)
	}
	front, err := tcpproxy.ListenOn(net.JoinHostPort(s.host, strconv.Itoa(s.port)), net.JoinHostPort(s.host, strconv.Itoa(back)))
	if err != nil {
		cancel()
		srv.Close()
		return fmt.Errorf("start OPC UA server on %s: %w", s.URL(), err)
	}
	s.srv, s.ns, s.cancel, s.front = srv, ns, cancel, front
	s.folders = map[string]*server.Node{"": plant}
	for _, name := range s.names {
		s.addNode(name)
	}
	return nil
}

// Stop closes the listener and every connection, as a machine switched
// off; the variables keep their values for Start.
func (s *Server) Stop() error {
	s.mu.Lock()
	srv, cancel, front := s.srv, s.cancel, s.front
	s.srv, s.ns, s.folders, s.cancel, s.front = nil, nil, nil, nil, nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	// Connections first: the server's channels then end at once. Its
	// message loop (ctx) runs until they did, so none waits on it.
	front.Close()
	err := srv.Close()
	cancel()
	return err
}

// Close stops the server for good.
func (s *Server) Close() error { return s.Stop() }
