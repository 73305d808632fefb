package s7

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/molen-io/molen/internal/backoff"
	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	connector.Register(connector.Spec{
		Name: "s7",
		Doc:  "poll data block values of a Siemens S7 PLC (S7comm over ISO-on-TCP)",
		New:  func() connector.Config { return NewConfig() },
		Build: func(cfg connector.Config, log *slog.Logger) (connector.Input, error) {
			c, ok := cfg.(*Config)
			if !ok {
				return nil, fmt.Errorf("s7: config is %T, want *s7.Config", cfg)
			}
			return New(c, log)
		},
	})
}

// Reasons under which Status.Rejected counts what the input could not use.
// A read var item the PLC refused counts under its return code's name
// (object_does_not_exist, address_out_of_range, access_denied, …).
const (
	ReasonBadFrame  = "bad_frame"  // an answer that does not parse (S7 header, lengths, item headers)
	ReasonS7Error   = "s7_error"   // an answer whose header reports an error for the whole request
	ReasonNotFinite = "not_finite" // a real or lreal holding NaN or ±Inf
)

// maxStrikes is the number of bad answers in a row after which the
// connection is made anew.
const maxStrikes = 3

// Input polls one S7 PLC.
type Input struct {
	cfg    Config
	addr   string
	fields []field
	ran    atomic.Bool
	status *connector.Tracker

	// Owned by Run's goroutine.
	ref     uint16
	strikes int
	alone   map[string]bool // fields read on their own since a joined read was out of range
}

// New returns an Input for the PLC cfg describes; cfg is validated.
func New(cfg *Config, log *slog.Logger) (*Input, error) {
	fields, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	addr := hostPort(cfg.Address)
	return &Input{
		cfg:    *cfg,
		addr:   addr,
		fields: fields,
		status: connector.NewTracker(addr, log.With("peer", addr, "rack", cfg.Rack, "slot", cfg.Slot)),
	}, nil
}

// Status reports the input's health.
func (in *Input) Status() connector.Status { return in.status.Status() }

// Run polls the PLC until ctx ends. It connects (TCP, COTP connection
// request, S7 setup communication) and then reads every item once per
// poll, in as few read var requests as the granted PDU length allows, and
// hands the poll's points to sink in one Write; a refused Write is retried
// with the same points, and no new poll is made until it succeeds. A lost
// connection is made anew with back-off; a new connection counts once the
// setup communication was answered.
func (in *Input) Run(ctx context.Context, sink connector.Sink) error {
	if !in.ran.CompareAndSwap(false, true) {
		return errors.New("s7: Run called twice")
	}
	defer in.status.SetState(connector.Stopped)
	connector.Reconnect(ctx, in.status, "PLC", in.cfg.BackoffMin, in.cfg.BackoffMax,
		func(ctx context.Context) (bool, error) { return in.session(ctx, sink) })
	return nil
}

// conn is one connection to the PLC.
type conn struct {
	c       net.Conn
	pdu     int
	timeout time.Duration
	stop    func() bool // unregisters the close at the context's end
}

func (cn *conn) close() {
	cn.stop()
	cn.c.Close()
}

// exchange sends one job and returns the params and data of its answer.
func (in *Input) exchange(cn *conn, build func(ref uint16) []byte) (params, data []byte, err error) {
	in.ref++
	if in.ref == 0 {
		in.ref = 1
	}
	if err := cn.c.SetDeadline(time.Now().Add(cn.timeout)); err != nil {
		return nil, nil, err
	}
	if err := writeTPKT(cn.c, build(in.ref)); err != nil {
		return nil, nil, err
	}
	b, err := readTPKT(cn.c)
	if err != nil {
		return nil, nil, err
	}
	return ack(b, in.ref)
}

func (in *Input) open(ctx context.Context) (*conn, error) {
	d := net.Dialer{Timeout: in.cfg.Timeout}
	c, err := d.DialContext(ctx, "tcp", in.addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	// The context's end closes the connection, so that a session blocked
	// in a request returns at once rather than after the timeout.
	cn := &conn{c: c, timeout: in.cfg.Timeout, stop: context.AfterFunc(ctx, func() { c.Close() })}
	if err := c.SetDeadline(time.Now().Add(in.cfg.Timeout)); err != nil {
		cn.close()
		return nil, err
	}
	if err := writeTPKT(c, connectRequest(connectionTypes[in.cfg.ConnectionType], in.cfg.Rack, in.cfg.Slot)); err != nil {
		cn.close()
		return nil, fmt.Errorf("COTP connection request: %w", err)
	}
	b, err := readTPKT(c)
	if err == nil {
		err = checkConfirm(b)
	}
	if err != nil {
		cn.close()
		return nil, fmt.Errorf("COTP connection request: %w", err)
	}
	params, _, err := in.exchange(cn, func(ref uint16) []byte { return setupRequest(ref, in.cfg.PDUSize) })
	if err == nil {
		cn.pdu, err = setupAnswer(params)
	}
	if err != nil {
		cn.close()
		return nil, fmt.Errorf("setup communication: %w", err)
	}
	in.strikes = 0
	return cn, nil
}

// session connects and polls until the connection fails or ctx ends.
func (in *Input) session(ctx context.Context, sink connector.Sink) (connected bool, err error) {
	cn, err := in.open(ctx)
	if err != nil {
		return false, err
	}
	defer cn.close()
	reqs := plan(in.fields, cn.pdu, in.cfg.MaxGap, in.alone)
	in.status.Connected("pdu", cn.pdu, "requests_per_poll", len(reqs))
	next := time.Now()
	for {
		pts, replan, err := in.poll(cn, reqs, make([]uns.Point, 0, len(in.fields)))
		if err != nil {
			return true, err
		}
		if replan {
			reqs = plan(in.fields, cn.pdu, in.cfg.MaxGap, in.alone)
		}
		if len(pts) > 0 {
			if !in.status.Deliver(ctx, "points", len(pts), in.cfg.BackoffMin, in.cfg.BackoffMax,
				func() error { return sink.Write(ctx, pts) }) {
				return true, ctx.Err()
			}
			in.status.AddPoints(int64(len(pts)))
		}
		next = next.Add(in.cfg.PollInterval)
		if now := time.Now(); next.Before(now) {
			next = now
		}
		if !backoff.Sleep(ctx, time.Until(next)) {
			return true, ctx.Err()
		}
	}
}

// poll sends every request once and appends the points to pts. It returns
// an error only when the connection must be made anew: an I/O error or a
// timeout (a late answer would be taken for the next one), a frame that
// puts the stream out of step, or maxStrikes bad answers in a row. replan
// says that a joined read was out of range: its fields are read on their
// own from then on, so that one wrong address costs only its own value.
func (in *Input) poll(cn *conn, reqs []request, pts []uns.Point) (_ []uns.Point, replan bool, _ error) {
	for _, req := range reqs {
		spans := make([]span, len(req))
		for i, b := range req {
			spans[i] = b.span
		}
		what := fmt.Sprintf("read %d items from DB%d.DBB%d", len(req), req[0].db, req[0].start)
		params, data, err := in.exchange(cn, func(ref uint16) []byte { return readRequest(ref, spans) })
		var items [][]byte
		var itemErrs []error
		if err == nil {
			items, itemErrs, err = readAnswer(params, data, spans)
		}
		ts := time.Now().UnixNano()
		var s7err *S7Error
		switch {
		case errors.As(err, &s7err):
			in.strikes = 0
			in.status.Reject(ReasonS7Error, fmt.Sprintf("%s: %v", what, err))
			continue
		case errors.Is(err, errBadFrame):
			in.status.Reject(ReasonBadFrame, fmt.Sprintf("%s: %v", what, err))
			if in.strikes++; in.strikes >= maxStrikes {
				return pts, false, fmt.Errorf("%d answers in a row were bad, the last: %s: %w", in.strikes, what, err)
			}
			continue
		case err != nil:
			return pts, false, fmt.Errorf("%s: %w", what, err)
		}
		in.strikes = 0
		for i, b := range req {
			if itemErrs[i] != nil {
				var ie ItemError
				errors.As(itemErrs[i], &ie)
				in.status.Reject(ie.Reason(), fmt.Sprintf("DB%d.DBB%d (%d bytes): %v", b.db, b.start, b.count, itemErrs[i]))
				if ie.Code == 0x05 && len(b.fields) > 1 {
					if in.alone == nil {
						in.alone = map[string]bool{}
					}
					for _, f := range b.fields {
						in.alone[f.series] = true
					}
					replan = true
				}
				continue
			}
			for j := range b.fields {
				f := &b.fields[j]
				v, err := f.value(items[i][f.byte-b.start:])
				if err != nil {
					in.status.Reject(ReasonNotFinite, fmt.Sprintf("%s (DB%d.DBB%d): %v", f.series, f.db, f.byte, err))
					continue
				}
				pts = append(pts, uns.Point{Series: f.series, TS: ts, Value: v})
			}
		}
	}
	return pts, replan, nil
}
