package mtconnect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/molen-io/molen/internal/backoff"
	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	connector.Register(connector.Spec{
		Name: "mtconnect",
		Doc:  "read the samples, events and conditions of an MTConnect agent (current, then sample from the next sequence)",
		New:  func() connector.Config { return NewConfig() },
		Build: func(cfg connector.Config, log *slog.Logger) (connector.Input, error) {
			c, ok := cfg.(*Config)
			if !ok {
				return nil, fmt.Errorf("mtconnect: config is %T, want *mtconnect.Config", cfg)
			}
			return New(c, log)
		},
	})
}

// Reasons under which Status.Rejected counts what the input could not use.
const (
	ReasonBadDocument  = "bad_document"  // a response that is not an MTConnect document (malformed XML, another root, an HTTP error without one)
	ReasonAgentError   = "agent_error"   // an MTConnectError other than OUT_OF_RANGE (NO_DEVICE, INVALID_REQUEST, …)
	ReasonBadValue     = "bad_value"     // a value that does not parse as its item's type, or an unknown condition level
	ReasonBadTimestamp = "bad_timestamp" // an observation whose timestamp does not parse
)

// KindCondition is the kind of the events conditions become.
const KindCondition = "condition"

// maxBody bounds a response: an agent answers count observations at most.
const maxBody = 64 << 20

// Input reads one MTConnect agent.
type Input struct {
	cfg       Config
	m         *mapping
	base      string // URL up to the request: <url>[/<device>]
	transport *http.Transport
	client    *http.Client
	ran       atomic.Bool
	status    *connector.Tracker

	// Owned by Run's goroutine.
	instance string               // the agent's instanceId; a new one means it restarted
	next     uint64               // the sequence the next sample request starts from
	last     map[string]uns.Value // the last value of each series, for UNAVAILABLE
	open     map[string][]cond    // the open conditions of each asset
}

// cond is an open condition: its event as written when it opened.
type cond struct {
	code string
	ev   uns.Event
}

// New returns an Input for the agent cfg describes; cfg is validated.
func New(cfg *Config, log *slog.Logger) (*Input, error) {
	m, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := strings.TrimRight(cfg.URL, "/")
	if cfg.Device != "" {
		base += "/" + cfg.Device
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	return &Input{
		cfg:       *cfg,
		m:         m,
		base:      base,
		transport: tr,
		client:    &http.Client{Transport: tr, Timeout: cfg.Timeout},
		status:    connector.NewTracker(cfg.URL, log.With("peer", cfg.URL)),
		last:      map[string]uns.Value{},
		open:      map[string][]cond{},
	}, nil
}

// Status reports the input's health.
func (in *Input) Status() connector.Status { return in.status.Status() }

// Run reads the agent until ctx ends. It asks for current first, and then
// for sample?from=<nextSequence> of the last answer, so that every
// observation the agent buffered is read once, across polls. The next
// request is made only once the sink took the last answer's points (a
// refused write is retried with the same points), so nothing read is lost.
// When the agent's buffer moved past the sequence asked for (OUT_OF_RANGE),
// the observations it no longer has are counted as dropped and the input
// starts again from current; when the agent restarted (a new instanceId),
// likewise. A lost agent is reconnected with back-off.
func (in *Input) Run(ctx context.Context, sink connector.Sink) error {
	if !in.ran.CompareAndSwap(false, true) {
		return errors.New("mtconnect: Run called twice")
	}
	defer in.status.SetState(connector.Stopped)
	connector.Reconnect(ctx, in.status, "agent", in.cfg.BackoffMin, in.cfg.BackoffMax,
		func(ctx context.Context) (bool, error) { return in.session(ctx, sink) })
	return nil
}

// session reads current and then samples until the agent fails or ctx
// ends. connected reports whether current was read.
func (in *Input) session(ctx context.Context, sink connector.Sink) (connected bool, err error) {
	defer in.transport.CloseIdleConnections()
	if err := in.current(ctx, sink, 0); err != nil {
		return false, err
	}
	in.status.Connected("instance", in.instance)
	for {
		more, err := in.sample(ctx, sink)
		if err != nil {
			return true, err
		}
		if !more && !backoff.Sleep(ctx, in.cfg.PollInterval) {
			return true, ctx.Err()
		}
	}
}

// current reads <base>/current and delivers it. from is the sequence the
// input had reached (0 at the start): the observations between from and
// current's nextSequence that current does not show are counted as
// dropped.
func (in *Input) current(ctx context.Context, sink connector.Sink, from uint64) error {
	hdr, obs, err := in.get(ctx, "/current")
	if err != nil {
		return err
	}
	if from > 0 && hdr.InstanceID == in.instance && hdr.NextSequence > from {
		lost := hdr.NextSequence - from
		for _, o := range obs {
			if o.Sequence >= from && lost > 0 {
				lost--
			}
		}
		in.status.AddDropped(int64(lost))
	}
	in.instance = hdr.InstanceID
	return in.deliver(ctx, sink, hdr, obs, true)
}

// sample reads the next observations and delivers them; more reports that
// the agent has more already.
func (in *Input) sample(ctx context.Context, sink connector.Sink) (more bool, err error) {
	from := in.next
	hdr, obs, err := in.get(ctx, fmt.Sprintf("/sample?from=%d&count=%d", from, in.cfg.Count))
	switch {
	case errors.Is(err, errOutOfRange):
		in.status.SetError(fmt.Sprintf("sequence %d is no longer in the agent's buffer (%v); reading current again", from, err))
		return true, in.current(ctx, sink, from)
	case errors.Is(err, errBadDocument), errors.Is(err, errAgent):
		// Counted by get; the same request is made again at the next poll.
		return false, nil
	case err != nil:
		return false, err
	case hdr.InstanceID != in.instance:
		in.status.SetError(fmt.Sprintf("the agent restarted (instance %s, was %s); reading current again", hdr.InstanceID, in.instance))
		return true, in.current(ctx, sink, 0)
	}
	if hdr.FirstSequence > from {
		// An agent that answers from its first sequence rather than
		// with OUT_OF_RANGE: what came before it is gone.
		in.status.AddDropped(int64(hdr.FirstSequence - from))
	}
	if err := in.deliver(ctx, sink, hdr, obs, false); err != nil {
		return false, err
	}
	return hdr.NextSequence <= hdr.LastSequence, nil
}

// errAgent marks an MTConnectError other than OUT_OF_RANGE.
var errAgent = errors.New("agent error")

// get requests path of the agent and parses the answer. A malformed answer
// is counted under bad_document and an MTConnectError other than
// OUT_OF_RANGE under agent_error, and both returned; a failed request is
// returned as it is: the agent is gone.
func (in *Input) get(ctx context.Context, path string) (header, []obs, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.base+path, nil)
	if err != nil {
		return header{}, nil, err
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return header{}, nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return header{}, nil, fmt.Errorf("GET %s: read answer: %w", path, err)
	}
	if len(body) > maxBody {
		in.status.Reject(ReasonBadDocument, fmt.Sprintf("GET %s: answer larger than %d bytes", path, maxBody))
		return header{}, nil, fmt.Errorf("%w: larger than %d bytes", errBadDocument, maxBody)
	}
	hdr, obs, err := parse(body)
	switch {
	case errors.Is(err, errOutOfRange):
		return hdr, nil, err
	case errors.Is(err, errBadDocument):
		err = fmt.Errorf("GET %s: HTTP %d: %w", path, resp.StatusCode, err)
		in.status.Reject(ReasonBadDocument, err.Error())
		return hdr, nil, err
	case err != nil:
		in.status.Reject(ReasonAgentError, fmt.Sprintf("GET %s: %v", path, err))
		return hdr, nil, fmt.Errorf("%w: %v", errAgent, err)
	case resp.StatusCode != http.StatusOK:
		msg := fmt.Sprintf("GET %s: HTTP %d with an MTConnectStreams document", path, resp.StatusCode)
		in.status.Reject(ReasonBadDocument, msg)
		return hdr, nil, fmt.Errorf("%w: %s", errBadDocument, msg)
	}
	return hdr, obs, nil
}
