package output

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/server/attrs"
	"github.com/gopcua/opcua/ua"

	"github.com/molen-io/molen/internal/uns"
)

func init() {
	Register(Spec{
		Name:  "opcua",
		Doc:   "serve the latest values as an OPC UA server, the UNS as folders and variables",
		New:   func() Config { return &OPCUAConfig{Listen: "0.0.0.0:4840", Namespace: "urn:molen:uns"} },
		Build: func(c Config, log *slog.Logger) (Sink, error) { return newOPCUA(c.(*OPCUAConfig), log) },
	})
}

// OPCUAConfig is the opcua output: an OPC UA server on the edge whose
// address space is the UNS tree of the series the output was sent, each
// tag a variable holding its latest value (docs/outputs.md).
type OPCUAConfig struct {
	Buffer `yaml:",inline"`
	// Listen is the server's address, host:port; port 0 picks a free one.
	// Default 0.0.0.0:4840.
	Listen string `yaml:"listen"`
	// Namespace is the URI of the namespace holding the tree. Default
	// urn:molen:uns.
	Namespace string `yaml:"namespace"`
	// Security must be "none": the server offers the policy None and
	// anonymous sessions only, for a plant network that is itself
	// protected (docs/outputs.md).
	Security string `yaml:"security"`
}

// Validate checks the config, by key.
func (c *OPCUAConfig) Validate() error {
	errs := c.Buffer.check()
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %q: want host:port", c.Listen))
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		errs = append(errs, fmt.Errorf("listen: port %q: want 0..65535", port))
	}
	if c.Namespace == "" || len(c.Namespace) > 256 {
		errs = append(errs, errors.New("namespace: want a URI such as urn:molen:uns"))
	}
	if c.Security != "none" {
		errs = append(errs, fmt.Errorf("security: %q: only none is offered (no encryption, anonymous clients): set security: none to accept that", c.Security))
	}
	return errors.Join(errs...)
}

// opcuaSink serves the latest values of the points it is sent. gopcua's
// own node namespace links new nodes without a lock against concurrent
// browsing (ADR 0028), so the tree lives in unsSpace, which answers the
// server under its own lock.
type opcuaSink struct {
	srv   *server.Server
	space *unsSpace
	addr  string
	log   *slog.Logger

	changed chan struct{} // 1 slot: values changed since the last notification
	ready   chan struct{} // closed once the server listens
}

func newOPCUA(c *OPCUAConfig, log *slog.Logger) (*opcuaSink, error) {
	host, portStr, _ := net.SplitHostPort(c.Listen) // checked by Validate
	port, _ := strconv.Atoi(portStr)
	if port == 0 {
		// gopcua needs the port up front to advertise its endpoint.
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("opcua: find a free port: %w", err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	srv := server.New(
		server.EndPoint(host, port),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.SetLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	space := &unsSpace{name: c.Namespace, entries: map[string]*unsEntry{"": {folder: true}}}
	srv.AddNamespace(space)
	ns0, err := srv.Namespace(0)
	if err != nil {
		return nil, fmt.Errorf("opcua: %w", err)
	}
	// The tree's root is the one node linked from gopcua's Objects folder,
	// before the server starts; everything below it is unsSpace's.
	root := server.NewNode(space.nodeID(""), map[ua.AttributeID]*ua.DataValue{
		ua.AttributeIDNodeClass:   server.DataValueFromValue(uint32(ua.NodeClassObject)),
		ua.AttributeIDBrowseName:  server.DataValueFromValue(attrs.BrowseName(unsRoot)),
		ua.AttributeIDDisplayName: server.DataValueFromValue(attrs.DisplayName(unsRoot, "")),
	}, nil, nil)
	ns0.Objects().AddRef(root, id.Organizes, true)
	return &opcuaSink{srv: srv, space: space, addr: net.JoinHostPort(host, strconv.Itoa(port)), log: log,
		changed: make(chan struct{}, 1), ready: make(chan struct{})}, nil
}

// unsRoot is the browse name of the tree's root in the Objects folder.
const unsRoot = "UNS"

func (s *opcuaSink) Target() string { return "opc.tcp://" + s.addr }

// Send makes pts the latest values (creating the nodes of new series) and
// tells the subscriptions.
func (s *opcuaSink) Send(_ context.Context, pts []uns.Point) error {
	s.space.set(pts)
	select {
	case s.changed <- struct{}{}:
	default: // a notification is pending; it reads the new values
	}
	return nil
}

// Run serves until ctx ends. Notifications run here, apart from Send,
// because gopcua's ChangeNotification blocks while a subscription's queue
// is full.
func (s *opcuaSink) Run(ctx context.Context) error {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if err := s.srv.Start(sctx); err != nil {
		cancel()
		return fmt.Errorf("opcua: serve on %s: %w", s.addr, err)
	}
	close(s.ready)
	defer func() {
		// Close waits for the channels to hand over their last messages,
		// which the goroutines sctx ends would take: cancel after.
		if err := s.srv.Close(); err != nil {
			s.log.Debug("opcua server close", "err", err)
		}
		cancel()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.changed:
			for _, nid := range s.space.takeChanged() {
				s.srv.ChangeNotification(nid)
			}
		}
	}
}

// unsEntry is a folder (a path prefix) or a variable (a series).
type unsEntry struct {
	folder   bool
	children []string // paths, sorted
	value    *ua.DataValue
}

// unsSpace is the output's namespace: the UNS tree, string node IDs being
// the paths ("" the root). mu guards entries, changed and every entry;
// answers are built under it and hold no shared state.
type unsSpace struct {
	name string
	id   uint16

	mu      sync.RWMutex
	entries map[string]*unsEntry
	changed []string // series set since takeChanged
}

func (ns *unsSpace) nodeID(path string) *ua.NodeID { return ua.NewStringNodeID(ns.id, path) }

// set stores pts' values, adding the folders and variables of new series.
func (ns *unsSpace) set(pts []uns.Point) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for _, p := range pts {
		e := ns.entries[p.Series]
		if e == nil {
			e = ns.add(p.Series, false)
		}
		if e.folder {
			continue // a path that is also a folder of others: its tags win
		}
		e.value = dataValue(p)
		ns.changed = append(ns.changed, p.Series)
	}
}

// add makes the entry of path and the folders above it. mu is held.
func (ns *unsSpace) add(path string, folder bool) *unsEntry {
	e := &unsEntry{folder: folder}
	ns.entries[path] = e
	parent := ""
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		parent = path[:i]
	}
	pe := ns.entries[parent]
	if pe == nil {
		pe = ns.add(parent, true)
	}
	if !pe.folder {
		// A series that was a tag is now a folder too: clients see a
		// folder; its value stays readable.
		pe.folder = true
	}
	i, _ := slices.BinarySearch(pe.children, path)
	pe.children = slices.Insert(pe.children, i, path)
	return e
}

// takeChanged returns the node IDs set since the last call, once each.
func (ns *unsSpace) takeChanged() []*ua.NodeID {
	ns.mu.Lock()
	paths := ns.changed
	ns.changed = nil
	ns.mu.Unlock()
	slices.Sort(paths)
	paths = slices.Compact(paths)
	out := make([]*ua.NodeID, len(paths))
	for i, p := range paths {
		out[i] = ns.nodeID(p)
	}
	return out
}

func dataValue(p uns.Point) *ua.DataValue {
	var v any
	switch p.Value.Kind() {
	case uns.KindString:
		v = p.Value.Str()
	case uns.KindInt:
		v = p.Value.Int()
	case uns.KindBool:
		v = p.Value.Bool()
	default:
		v = p.Value.Float64()
	}
	ts := time.Unix(0, p.TS)
	dv := &ua.DataValue{
		EncodingMask:    ua.DataValueValue | ua.DataValueSourceTimestamp | ua.DataValueServerTimestamp | ua.DataValueStatusCode,
		Value:           ua.MustVariant(v),
		SourceTimestamp: ts, ServerTimestamp: time.Now(),
		Status: ua.StatusOK,
	}
	switch p.Quality {
	case uns.Uncertain:
		dv.Status = ua.StatusUncertain
	case uns.Bad:
		dv.Status = ua.StatusBad
	}
	return dv
}

// path is the path of a node ID of this namespace, and whether it is one.
func (ns *unsSpace) path(nid *ua.NodeID) (string, bool) {
	if nid == nil || nid.Namespace() != ns.id || nid.Type() != ua.NodeIDTypeString {
		return "", false
	}
	return nid.StringID(), true
}

func (ns *unsSpace) Name() string          { return ns.name }
func (ns *unsSpace) ID() uint16            { return ns.id }
func (ns *unsSpace) SetID(id uint16)       { ns.id = id }
func (ns *unsSpace) Objects() *server.Node { return nil }
func (ns *unsSpace) Root() *server.Node    { return nil }

// AddNode is not offered: the tree comes from the points.
func (ns *unsSpace) AddNode(n *server.Node) *server.Node { return n }

// Node returns nil: the server asks Attribute and Browse, never a node.
func (ns *unsSpace) Node(*ua.NodeID) *server.Node { return nil }

// SetAttribute refuses writes: the values are the edge's.
func (ns *unsSpace) SetAttribute(*ua.NodeID, ua.AttributeID, *ua.DataValue) ua.StatusCode {
	return ua.StatusBadNotWritable
}

func (ns *unsSpace) Browse(bd *ua.BrowseDescription) *ua.BrowseResult {
	path, ok := ns.path(bd.NodeID)
	if !ok {
		return &ua.BrowseResult{StatusCode: ua.StatusBadNodeIDUnknown}
	}
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	e := ns.entries[path]
	if e == nil {
		return &ua.BrowseResult{StatusCode: ua.StatusBadNodeIDUnknown}
	}
	refs := []*ua.ReferenceDescription{}
	if bd.BrowseDirection == ua.BrowseDirectionInverse {
		return &ua.BrowseResult{StatusCode: ua.StatusGood, References: refs}
	}
	for _, child := range e.children {
		c := ns.entries[child]
		name := child[strings.LastIndexByte(child, '/')+1:]
		ref, class, typ := uint32(id.HasComponent), ua.NodeClassVariable, uint32(id.BaseDataVariableType)
		if c.folder {
			ref, class, typ = id.Organizes, ua.NodeClassObject, id.FolderType
		}
		refs = append(refs, &ua.ReferenceDescription{
			ReferenceTypeID: ua.NewNumericNodeID(0, ref),
			IsForward:       true,
			NodeID:          ua.NewStringExpandedNodeID(ns.id, child),
			BrowseName:      &ua.QualifiedName{NamespaceIndex: ns.id, Name: name},
			DisplayName:     &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: name},
			NodeClass:       class,
			TypeDefinition:  ua.NewNumericExpandedNodeID(0, typ),
		})
	}
	return &ua.BrowseResult{StatusCode: ua.StatusGood, References: refs}
}

func (ns *unsSpace) Attribute(nid *ua.NodeID, attr ua.AttributeID) *ua.DataValue {
	bad := func(code ua.StatusCode) *ua.DataValue {
		return &ua.DataValue{EncodingMask: ua.DataValueServerTimestamp | ua.DataValueStatusCode, ServerTimestamp: time.Now(), Status: code}
	}
	path, ok := ns.path(nid)
	if !ok {
		return bad(ua.StatusBadNodeIDUnknown)
	}
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	e := ns.entries[path]
	if e == nil {
		return bad(ua.StatusBadNodeIDUnknown)
	}
	name := path[strings.LastIndexByte(path, '/')+1:]
	if path == "" {
		name = unsRoot
	}
	variable := !e.folder || e.value != nil
	var v any
	switch attr {
	case ua.AttributeIDNodeID:
		v = nid
	case ua.AttributeIDNodeClass:
		v = int32(ua.NodeClassObject)
		if !e.folder {
			v = int32(ua.NodeClassVariable)
		}
	case ua.AttributeIDBrowseName:
		v = &ua.QualifiedName{NamespaceIndex: ns.id, Name: name}
	case ua.AttributeIDDisplayName:
		v = &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: name}
	case ua.AttributeIDDescription:
		v = &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: path}
	case ua.AttributeIDEventNotifier:
		v = byte(0)
	case ua.AttributeIDValue:
		if !variable || e.value == nil {
			return bad(ua.StatusBadAttributeIDInvalid)
		}
		dv := *e.value // a copy: the stored one is replaced, never changed
		return &dv
	case ua.AttributeIDDataType:
		if !variable || e.value == nil {
			return bad(ua.StatusBadAttributeIDInvalid)
		}
		v = ua.NewNumericNodeID(0, uint32(e.value.Value.Type()))
	case ua.AttributeIDValueRank:
		v = int32(-1) // a scalar
	case ua.AttributeIDAccessLevel, ua.AttributeIDUserAccessLevel:
		v = byte(ua.AccessLevelTypeCurrentRead)
	default:
		return bad(ua.StatusBadAttributeIDInvalid)
	}
	return &ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueServerTimestamp, Value: ua.MustVariant(v), ServerTimestamp: time.Now()}
}
