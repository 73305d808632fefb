package opcua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	connector.Register(connector.Spec{
		Name: "opcua",
		Doc:  "subscribe to (or poll) variables of an OPC UA server",
		New:  func() connector.Config { return NewConfig() },
		Build: func(cfg connector.Config, log *slog.Logger) (connector.Input, error) {
			c, ok := cfg.(*Config)
			if !ok {
				return nil, fmt.Errorf("opcua: config is %T, want *opcua.Config", cfg)
			}
			return New(c, log)
		},
	})
}

// probeInterval is how often a subscribing input reads the server's state
// to notice a server that stopped answering without closing the
// connection; polling inputs notice it by their reads.
const probeInterval = 10 * time.Second

// keepAlivePeriod is about how often a server sends a keep-alive on a
// subscription without changes; the subscription's lifetime is
// lifetimeKeepAlives of them without a publish request from the client.
const (
	keepAlivePeriod    = 10 * time.Second
	lifetimeKeepAlives = 6
)

// refusals are the status codes with which a server says it does not do
// subscriptions (at all, or not any more of them): the input polls instead.
var refusals = []ua.StatusCode{
	ua.StatusBadServiceUnsupported,
	ua.StatusBadNotSupported,
	ua.StatusBadNotImplemented,
	ua.StatusBadTooManySubscriptions,
	ua.StatusBadTooManyMonitoredItems,
}

// errLost is the session's end when the client library reports the
// connection closed or a Bad service result (see loop).
var errLost = errors.New("connection lost or the server failed a request")

// Input reads variables of one OPC UA server.
type Input struct {
	cfg  Config
	plan *plan
	log  *slog.Logger
	ran  atomic.Bool

	// nodes are the current connection's nodes, by client handle: the
	// explicit ones, then the browse matches. Only Run's goroutine uses
	// them.
	nodes []node

	status *connector.Tracker
}

// New returns an Input for the server cfg describes; cfg is validated and
// the certificate and key files it names are read.
func New(cfg *Config, log *slog.Logger) (*Input, error) {
	p, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("peer", cfg.Endpoint)
	return &Input{
		cfg:    *cfg,
		plan:   p,
		log:    log,
		status: connector.NewTracker(cfg.Endpoint, log),
	}, nil
}

// Status reports the input's health.
func (in *Input) Status() connector.Status {
	return in.status.Status()
}

// Run reads from the server until ctx ends. Each session asks the server
// for its endpoints, checks the one matching the configured security
// against the trust list, connects, and then either subscribes to every
// node or polls them. A session that fails is made anew with back-off, and
// subscriptions with it. A refused Write to the sink is retried with the
// same points until the sink takes them; meanwhile nothing new is read.
// Run returns nil when ctx ends, within about one timeout.
func (in *Input) Run(ctx context.Context, sink connector.Sink) error {
	if !in.ran.CompareAndSwap(false, true) {
		return errors.New("opcua: Run called twice")
	}
	defer in.status.SetState(connector.Stopped)
	connector.Reconnect(ctx, in.status, "server", in.cfg.BackoffMin, in.cfg.BackoffMax,
		func(ctx context.Context) (bool, error) { return in.session(ctx, sink) })
	return nil
}

// session connects, subscribes or polls, and delivers until the connection
// fails or ctx ends. connected reports whether the session was activated.
func (in *Input) session(ctx context.Context, sink connector.Sink) (connected bool, err error) {
	ep, err := in.endpoint(ctx)
	if err != nil {
		return false, err
	}
	opts, err := in.options(ep)
	if err != nil {
		return false, err
	}
	// The library reports a lost connection on this channel; its sends
	// must never block (they would stall its monitor goroutine), and a
	// client sends at most five states in its life.
	states := make(chan gopcua.ConnState, 16)
	c, err := gopcua.NewClient(in.cfg.Endpoint, append(opts, gopcua.StateChangedCh(states))...)
	if err != nil {
		return false, fmt.Errorf("client for %s: %w", in.cfg.Endpoint, err)
	}
	if err := c.Connect(ctx); err != nil {
		return false, in.connectError(err)
	}
	var sub *gopcua.Subscription
	defer func() { in.close(ctx, c, sub) }()
	in.status.Connected("security_mode", in.cfg.SecurityMode, "security_policy", strings.TrimPrefix(in.plan.policy, ua.SecurityPolicyURIPrefix))
	// The address space may have changed while the input was away, so
	// every connection browses anew.
	if in.nodes, err = in.browse(ctx, c); err != nil {
		return true, err
	}
	if len(in.nodes) == 0 {
		in.status.SetError("no variable matches the browse rules; nothing to read")
	}

	notifs := make(chan *gopcua.PublishNotificationData, 16)
	polled := make([]int, len(in.nodes))
	for i := range polled {
		polled[i] = i
	}
	if in.plan.subscribe {
		if sub, polled, err = in.subscribe(ctx, c, notifs); err != nil {
			return true, err
		}
	}
	return true, in.loop(ctx, c, sub, sink, states, notifs, polled)
}

// endpoint asks the server for its endpoints and returns the one with the
// configured security mode and policy, whose certificate is trusted.
func (in *Input) endpoint(ctx context.Context) (*ua.EndpointDescription, error) {
	eps, err := gopcua.GetEndpoints(ctx, in.cfg.Endpoint,
		gopcua.DialTimeout(in.cfg.Timeout), gopcua.RequestTimeout(in.cfg.Timeout))
	if err != nil {
		return nil, fmt.Errorf("get endpoints: %w", err)
	}
	var offered []string
	for _, ep := range eps {
		if ep.SecurityMode == in.plan.mode && ep.SecurityPolicyURI == in.plan.policy {
			if in.plan.mode != ua.MessageSecurityModeNone {
				if err := in.trustServer(ep.ServerCertificate); err != nil {
					return nil, err
				}
			}
			return ep, nil
		}
		offered = append(offered, fmt.Sprintf("%s/%s", modeName(ep.SecurityMode), strings.TrimPrefix(ep.SecurityPolicyURI, ua.SecurityPolicyURIPrefix)))
	}
	slices.Sort(offered)
	return nil, fmt.Errorf("the server offers no endpoint with security %s/%s; it offers %s",
		in.cfg.SecurityMode, strings.TrimPrefix(in.plan.policy, ua.SecurityPolicyURIPrefix), strings.Join(slices.Compact(offered), ", "))
}

// trustServer checks the certificate the server presents against
// trusted_server_certificates and the certificates in pki_dir's trusted/
// (read anew at every attempt, so that a certificate an operator moved
// there counts at once), and shows it in the status. With pki_dir, a
// certificate it does not trust is saved in rejected/ for the operator to
// check and move to trusted/; until then the input does not connect.
func (in *Input) trustServer(presented []byte) error {
	leaf, err := serverCertificate(presented)
	if err != nil {
		in.status.SetPeerCertificate(nil)
		return err
	}
	trusted := in.plan.trusted
	if in.plan.pki != "" {
		more, err := readTrusted(filepath.Join(in.plan.pki, TrustedDir))
		if err != nil {
			return fmt.Errorf("pki_dir: %w", err)
		}
		trusted = append(slices.Clip(trusted), more...)
	}
	info := describe(leaf)
	err = trust(trusted, leaf, time.Now())
	info.Trusted = err == nil
	if errors.Is(err, errUntrusted) {
		if in.plan.pki == "" {
			err = fmt.Errorf("%w: add it (or the CA that issued it) to trusted_server_certificates", err)
		} else if file, serr := reject(in.plan.pki, leaf); serr != nil {
			err = fmt.Errorf("%w; %v", err, serr)
		} else {
			info.File = file
			err = fmt.Errorf("%w; saved as %s: if its thumbprint is the server's, move it to %s to trust it",
				err, file, filepath.Join(in.plan.pki, TrustedDir)+string(filepath.Separator))
		}
	}
	in.status.SetPeerCertificate(info)
	return err
}

// refusedCertificate are the status codes with which a server refuses a
// secure channel or session because of the client's certificate, or
// reports a failed security check without saying which.
var refusedCertificate = []ua.StatusCode{
	ua.StatusBadSecurityChecksFailed,
	ua.StatusBadCertificateUntrusted,
	ua.StatusBadCertificateInvalid,
	ua.StatusBadCertificateURIInvalid,
	ua.StatusBadCertificateTimeInvalid,
	ua.StatusBadCertificateUseNotAllowed,
	ua.StatusBadCertificateRevocationUnknown,
	ua.StatusBadCertificateChainIncomplete,
}

// connectError is the error of a failed connection: if the server refused
// the edge's certificate, with what the server must be told (the
// certificate's thumbprint and URI) and the usual causes.
func (in *Input) connectError(err error) error {
	var sc ua.StatusCode
	if in.plan.cert == nil || !errors.As(err, &sc) || !slices.Contains(refusedCertificate, sc) {
		return fmt.Errorf("connect: %w", err)
	}
	return fmt.Errorf("connect: %w: the server does not accept the edge's certificate (SHA-1 %s, application URI %s): "+
		"it must be in the server's trusted certificates (or be accepted in the server's UI), its URI must be the one the server expects, "+
		"the clocks of edge and server must agree, and the server must offer security policy %s",
		err, Thumbprint(in.plan.cert), in.plan.certURI, strings.TrimPrefix(in.plan.policy, ua.SecurityPolicyURIPrefix))
}

func modeName(m ua.MessageSecurityMode) string {
	return strings.TrimPrefix(m.String(), "MessageSecurityMode")
}

// options are the client options for endpoint ep.
func (in *Input) options(ep *ua.EndpointDescription) ([]gopcua.Option, error) {
	opts := []gopcua.Option{
		// Reconnecting is Run's: a new client per session keeps the
		// library's reconnection machinery (and its goroutines) out.
		gopcua.AutoReconnect(false),
		gopcua.DialTimeout(in.cfg.Timeout),
		gopcua.RequestTimeout(in.cfg.Timeout),
		gopcua.ApplicationName("molen edge"),
		gopcua.SessionName("molen"),
		gopcua.SecurityPolicy(in.plan.policy),
		gopcua.SecurityMode(in.plan.mode),
	}
	if in.plan.cert != nil {
		opts = append(opts, gopcua.Certificate(in.plan.cert), gopcua.PrivateKey(in.plan.key))
	}
	tok := ua.UserTokenTypeAnonymous
	if in.cfg.Username != "" {
		tok = ua.UserTokenTypeUserName
		opts = append(opts, gopcua.AuthUsername(in.cfg.Username, string(in.cfg.Password)))
	} else {
		opts = append(opts, gopcua.AuthAnonymous())
	}
	if !slices.ContainsFunc(ep.UserIdentityTokens, func(p *ua.UserTokenPolicy) bool { return p.TokenType == tok }) {
		if tok == ua.UserTokenTypeAnonymous {
			return nil, errors.New("the server's endpoint does not accept anonymous sessions: set username and password")
		}
		return nil, errors.New("the server's endpoint does not accept user name logins")
	}
	return append(opts, gopcua.SecurityFromEndpoint(ep, tok)), nil
}

// subscribe creates a subscription with a monitored item per node. It
// returns the nodes to poll instead: all of them if the server refuses
// subscriptions, else those it refused to monitor.
func (in *Input) subscribe(ctx context.Context, c *gopcua.Client, notifs chan *gopcua.PublishNotificationData) (*gopcua.Subscription, []int, error) {
	all := make([]int, len(in.nodes))
	for i := range all {
		all[i] = i
	}
	keepAlive := uint32(min(max(keepAlivePeriod/in.cfg.PublishingInterval, 1), 10000))
	sub, err := c.Subscribe(ctx, &gopcua.SubscriptionParameters{
		Interval:          in.cfg.PublishingInterval,
		MaxKeepAliveCount: keepAlive,
		LifetimeCount:     lifetimeKeepAlives * keepAlive,
	}, notifs)
	if err != nil {
		if sc, ok := refused(err); ok {
			in.fallback(sc)
			return nil, all, nil
		}
		return nil, nil, fmt.Errorf("create subscription: %w", err)
	}
	var polled []int
	for chunk := range slices.Chunk(all, in.cfg.MaxNodesPerRequest) {
		reqs := make([]*ua.MonitoredItemCreateRequest, len(chunk))
		for j, i := range chunk {
			r := gopcua.NewMonitoredItemCreateRequestWithDefaults(in.nodes[i].id, ua.AttributeIDValue, uint32(i))
			r.RequestedParameters.SamplingInterval = float64(in.cfg.SamplingInterval) / float64(time.Millisecond)
			r.RequestedParameters.QueueSize = uint32(in.cfg.QueueSize)
			r.RequestedParameters.DiscardOldest = true
			reqs[j] = r
		}
		res, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth, reqs...)
		if err == nil && len(res.Results) != len(reqs) {
			err = fmt.Errorf("%d results for %d items", len(res.Results), len(reqs))
		}
		if err != nil {
			in.cancel(ctx, sub)
			if sc, ok := refused(err); ok {
				in.fallback(sc)
				return nil, all, nil
			}
			return nil, nil, fmt.Errorf("create monitored items: %w", err)
		}
		for j, r := range res.Results {
			if quality(r.StatusCode) != uns.Good {
				n := in.nodes[chunk[j]]
				in.status.Reject(ReasonMonitorRefused, fmt.Sprintf("monitor %s (%s): %s; polling it every %v", n.id, n.series, statusName(r.StatusCode), in.cfg.PollInterval))
				polled = append(polled, chunk[j])
			}
		}
	}
	return sub, polled, nil
}

func refused(err error) (ua.StatusCode, bool) {
	var sc ua.StatusCode
	if errors.As(err, &sc) && slices.Contains(refusals, sc) {
		return sc, true
	}
	return 0, false
}

func (in *Input) fallback(sc ua.StatusCode) {
	msg := fmt.Sprintf("the server refused subscriptions (%s); polling every %v", statusName(sc), in.cfg.PollInterval)
	in.status.Reject(ReasonSubscribeRefused, msg)
	in.log.Warn(msg)
}

// loop delivers notifications and polls the polled nodes until the
// connection fails or ctx ends.
func (in *Input) loop(ctx context.Context, c *gopcua.Client, sub *gopcua.Subscription, sink connector.Sink,
	states <-chan gopcua.ConnState, notifs <-chan *gopcua.PublishNotificationData, polled []int) error {
	var pollTick, probeTick <-chan time.Time
	// The library reports every Bad service result on the channel it
	// watches for errors, and its monitor goroutine then stops, taking the
	// subscription's publish loop with it: with a subscription, any state
	// change but Connected ends the session. Without one (poll mode, or
	// after the server refused to subscribe, which is such a result) only
	// the reads matter: they fail once the connection is gone.
	if sub == nil {
		states = nil
	}
	if len(polled) > 0 {
		if err := in.poll(ctx, c, sink, polled); err != nil {
			return err
		}
		t := time.NewTicker(in.cfg.PollInterval)
		defer t.Stop()
		pollTick = t.C
	}
	if sub != nil {
		t := time.NewTicker(probeInterval)
		defer t.Stop()
		probeTick = t.C
	}
	// A subscription whose client sends no publish requests for its
	// lifetime is deleted by the server; the library does not say so. A
	// delivery that held the notifications (and so the publish requests)
	// for half of it ends the session, so that it is made anew.
	var lifetime time.Duration
	if sub != nil {
		lifetime = time.Duration(sub.RevisedLifetimeCount) * sub.RevisedPublishingInterval
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case s := <-states:
			if s == gopcua.Disconnected || s == gopcua.Closed {
				return errLost
			}
		case n := <-notifs:
			pts, err := in.notification(n)
			if err != nil {
				return err
			}
			if len(pts) == 0 {
				continue
			}
			took, err := in.deliver(ctx, sink, pts)
			if err != nil {
				return err
			}
			if lifetime > 0 && took > lifetime/2 {
				return fmt.Errorf("the edge held the subscription's notifications for %v (its lifetime is %v); subscribing anew", took.Round(time.Millisecond), lifetime)
			}
		case <-pollTick:
			if err := in.poll(ctx, c, sink, polled); err != nil {
				return err
			}
		case <-probeTick:
			if err := in.probe(ctx, c); err != nil {
				return err
			}
		}
	}
}

// notification turns a publish notification into points.
func (in *Input) notification(n *gopcua.PublishNotificationData) ([]uns.Point, error) {
	if n.Error != nil {
		return nil, fmt.Errorf("subscription: %w", n.Error)
	}
	switch v := n.Value.(type) {
	case *ua.DataChangeNotification:
		now := time.Now()
		pts := make([]uns.Point, 0, len(v.MonitoredItems))
		for _, item := range v.MonitoredItems {
			if item == nil || int(item.ClientHandle) >= len(in.nodes) {
				continue // not an item of ours; cannot happen with a sane server
			}
			n := in.nodes[item.ClientHandle]
			if item.Value != nil && overflow(status(item.Value)) {
				in.status.AddDropped(1)
			}
			pts = in.point(pts, n, item.Value, now)
		}
		return pts, nil
	case *ua.StatusChangeNotification:
		return nil, fmt.Errorf("the server ended the subscription: %s", statusName(v.Status))
	}
	return nil, nil
}

// point appends the point of data value dv of node n to pts, or counts why
// it cannot be written.
func (in *Input) point(pts []uns.Point, n node, dv *ua.DataValue, now time.Time) []uns.Point {
	pt, reason, msg := convert(n.series, dv, now)
	if reason != "" {
		in.status.Reject(reason, fmt.Sprintf("%s (%s): %s", n.id, n.series, msg))
		return pts
	}
	return append(pts, pt)
}

// poll reads the given nodes, at most MaxNodesPerRequest per request, and
// delivers their points in one write.
func (in *Input) poll(ctx context.Context, c *gopcua.Client, sink connector.Sink, nodes []int) error {
	pts := make([]uns.Point, 0, len(nodes))
	for chunk := range slices.Chunk(nodes, in.cfg.MaxNodesPerRequest) {
		req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth, NodesToRead: make([]*ua.ReadValueID, len(chunk))}
		for j, i := range chunk {
			req.NodesToRead[j] = &ua.ReadValueID{NodeID: in.nodes[i].id, AttributeID: ua.AttributeIDValue}
		}
		res, err := c.Read(ctx, req)
		if err == nil && len(res.Results) != len(chunk) {
			err = fmt.Errorf("%d results for %d nodes", len(res.Results), len(chunk))
		}
		if err != nil {
			return fmt.Errorf("read %d nodes: %w", len(chunk), err)
		}
		now := time.Now()
		for j, dv := range res.Results {
			pts = in.point(pts, in.nodes[chunk[j]], dv, now)
		}
	}
	if len(pts) == 0 {
		return nil
	}
	_, err := in.deliver(ctx, sink, pts)
	return err
}

// probe reads the server's state variable: any answer shows the server is
// there.
func (in *Input) probe(ctx context.Context, c *gopcua.Client) error {
	_, err := c.Read(ctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{
		NodeID:      ua.NewNumericNodeID(0, id.Server_ServerStatus_State),
		AttributeID: ua.AttributeIDValue,
	}}})
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	return nil
}

// close deletes the subscription and closes the session and connection,
// within one timeout even after ctx ended.
func (in *Input) close(ctx context.Context, c *gopcua.Client, sub *gopcua.Subscription) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.cfg.Timeout)
	defer cancel()
	if sub != nil {
		in.cancel(cctx, sub)
	}
	c.Close(cctx)
}

// cancel deletes sub on the server, so that it does not linger there for
// its lifetime; a failure (the connection is gone) changes nothing.
func (in *Input) cancel(ctx context.Context, sub *gopcua.Subscription) {
	if err := sub.Cancel(ctx); err != nil {
		in.log.Debug("delete subscription", "err", err)
	}
}

// deliver writes pts to sink, retrying the same points with back-off until
// the sink accepts them or ctx ends. It returns how long that took.
func (in *Input) deliver(ctx context.Context, sink connector.Sink, pts []uns.Point) (time.Duration, error) {
	start := time.Now()
	if !in.status.Deliver(ctx, "points", len(pts), in.cfg.BackoffMin, in.cfg.BackoffMax,
		func() error { return sink.Write(ctx, pts) }) {
		return time.Since(start), ctx.Err()
	}
	in.status.AddPoints(int64(len(pts)))
	return time.Since(start), nil
}
