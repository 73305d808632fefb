package sim

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/server/attrs"
	"github.com/gopcua/opcua/ua"

	"github.com/molen-io/molen/internal/uns"
)

// OPCUANodeID returns the NodeID under which the OPC UA server of a Server
// serves tag of machine: namespace 1, string id "<machine>.<tag>", e.g.
// "ns=1;s=compressor.pressure_bar".
func OPCUANodeID(machine, tag string) string {
	return ua.NewStringNodeID(1, machine+"."+tag).String()
}

// opcuaServer serves one machine's tags as OPC UA variables: the gopcua
// server with security None and anonymous sessions only.
type opcuaServer struct {
	srv    *server.Server
	addr   string
	cancel context.CancelFunc
	nodes  []*ua.NodeID // in the order of the machine's tags

	mu     sync.Mutex // guards values
	values []*ua.DataValue

	changed chan struct{} // 1 slot: the values changed since the last notification
	stop    chan struct{}
	done    chan struct{} // closed when notify returns
}

// startOPCUA starts an OPC UA server on addr serving m's current values.
// gopcua needs the port up front to advertise its endpoint and does not
// report the port it bound, so port 0 is resolved to a free port first.
func startOPCUA(addr string, m *machine) (*opcuaServer, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host == "" {
		host = "0.0.0.0"
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", portStr, err)
	}
	if port == 0 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	// gopcua reports its setup ("New Node Set", "Started listening on …")
	// with the standard logger, which molen does not use; keep it quiet
	// while the server starts.
	defer log.SetOutput(log.Writer())
	log.SetOutput(io.Discard)
	srv := server.New(
		server.EndPoint(host, port),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.SetLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	o := &opcuaServer{
		srv:     srv,
		addr:    net.JoinHostPort(host, strconv.Itoa(port)),
		changed: make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	ns := server.NewNodeNameSpace(srv, "urn:molen:sim")
	ns0, err := srv.Namespace(0)
	if err != nil {
		return nil, err
	}
	// As on a real machine's server, the machine is an object in the
	// Objects folder with a variable per tag, so that clients find the
	// tags by browsing. Everything is linked before the server starts:
	// gopcua does not lock a node's references against a concurrent Browse.
	obj := server.NewNode(ua.NewStringNodeID(1, m.kind.name), map[ua.AttributeID]*ua.DataValue{
		ua.AttributeIDNodeClass:     server.DataValueFromValue(uint32(ua.NodeClassObject)),
		ua.AttributeIDBrowseName:    server.DataValueFromValue(attrs.BrowseName(m.kind.name)),
		ua.AttributeIDDisplayName:   server.DataValueFromValue(attrs.DisplayName(m.kind.name, "")),
		ua.AttributeIDEventNotifier: server.DataValueFromValue(int16(0)),
	}, nil, nil)
	ns.AddNode(obj)
	for i, tag := range m.kind.tags() {
		nid := ua.NewStringNodeID(1, m.kind.name+"."+tag)
		o.nodes = append(o.nodes, nid)
		v := server.NewVariableNode(nid, tag, func() *ua.DataValue { // browse and display name: the tag
			o.mu.Lock()
			defer o.mu.Unlock()
			return o.values[i]
		})
		obj.AddRef(v, id.HasComponent, true)
		ns.AddNode(v)
	}
	ns0.Objects().AddRef(obj, id.Organizes, true)
	o.set(m, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		return nil, err
	}
	o.cancel = cancel
	go o.notify()
	return o, nil
}

// set makes m's current values those the server serves.
func (o *opcuaServer) set(m *machine, now time.Time) {
	tvs := m.tagValues(nil)
	values := make([]*ua.DataValue, len(tvs))
	for i, tv := range tvs {
		var v any
		switch tv.value.Kind() {
		case uns.KindString:
			v = tv.value.Str()
		case uns.KindInt:
			v = tv.value.Int()
		default:
			v = tv.value.Float64()
		}
		dv := &ua.DataValue{
			EncodingMask:    ua.DataValueValue | ua.DataValueSourceTimestamp | ua.DataValueServerTimestamp,
			Value:           ua.MustVariant(v),
			SourceTimestamp: now,
			ServerTimestamp: now,
		}
		if tv.uncertain {
			dv.EncodingMask |= ua.DataValueStatusCode
			dv.Status = ua.StatusUncertain
		}
		values[i] = dv
	}
	o.mu.Lock()
	o.values = values
	o.mu.Unlock()
}

// update serves m's values after a tick and tells the subscriptions.
func (o *opcuaServer) update(m *machine, now time.Time) {
	o.set(m, now)
	select {
	case o.changed <- struct{}{}:
	default: // a notification is pending; it will read the new values
	}
}

// notify tells the monitored items of every node about changes. It runs
// apart from the tick loop because gopcua's ChangeNotification blocks while
// a subscription's queue is full.
func (o *opcuaServer) notify() {
	defer close(o.done)
	for {
		select {
		case <-o.stop:
			return
		case <-o.changed:
			for _, id := range o.nodes {
				o.srv.ChangeNotification(id)
			}
		}
	}
}

// close stops notifying, then the server. The server's context ends last:
// gopcua's Close waits (up to 10 s) for its channels to hand over their
// last messages, which the goroutines the context ends would take.
func (o *opcuaServer) close() error {
	close(o.stop)
	<-o.done
	defer o.cancel()
	return o.srv.Close()
}
