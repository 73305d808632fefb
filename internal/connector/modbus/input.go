package modbus

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	mb "github.com/simonvetter/modbus"

	"github.com/molen-io/molen/internal/backoff"
	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	connector.Register(connector.Spec{
		Name: "modbus",
		Doc:  "poll registers, coils and discrete inputs of a Modbus TCP device, or an RTU device on a serial port or behind a gateway",
		New:  func() connector.Config { return NewConfig() },
		Build: func(cfg connector.Config, log *slog.Logger) (connector.Input, error) {
			c, ok := cfg.(*Config)
			if !ok {
				return nil, fmt.Errorf("modbus: config is %T, want *modbus.Config", cfg)
			}
			return New(c, log)
		},
	})
}

// maxStrikes is the number of requests in a row that may fail with a bad
// frame or a timeout before the connection is dropped and made anew: a
// stream that keeps failing may be out of step with the device.
const maxStrikes = 3

// Reasons under which Status.Rejected counts failed requests and values.
const (
	ReasonBadFrame  = "bad_frame"  // a response that does not parse (length, unit id, transaction id)
	ReasonBadCRC    = "bad_crc"    // an RTU response whose CRC is wrong: noise on the serial line, a wrong baud rate or parity
	ReasonTimeout   = "timeout"    // no response within the timeout
	ReasonNotFinite = "not_finite" // a float register holding NaN or ±Inf
	// Modbus exceptions count under their name: illegal_function,
	// illegal_data_address, illegal_data_value, server_device_failure,
	// acknowledge, server_device_busy, memory_parity_error,
	// gateway_path_unavailable, gateway_target_failed, unknown_exception.
)

// Input polls one Modbus device.
type Input struct {
	cfg    Config
	log    *slog.Logger
	libLog *log.Logger // the client library's log, at debug level
	fields []field
	ran    atomic.Bool

	// blocks and strikes are owned by Run's goroutine. blocks starts as
	// the batched plan; a block the device refuses is split for good.
	blocks  []block
	strikes int

	status *connector.Tracker
}

// New returns an Input for the device cfg describes; cfg is validated.
func New(cfg *Config, log *slog.Logger) (*Input, error) {
	fields, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("peer", cfg.URL, "unit_id", cfg.UnitID)
	return &Input{
		cfg:    *cfg,
		log:    log,
		libLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		fields: fields,
		blocks: plan(fields, cfg.MaxRegisters, cfg.MaxGap),
		status: connector.NewTracker(cfg.URL, log),
	}, nil
}

// Status reports the input's health.
func (in *Input) Status() connector.Status {
	return in.status.Status()
}

// Run polls the device until ctx ends. Each poll reads all blocks and hands
// their points to sink in one Write; a refused Write is retried with the
// same points (the same timestamps) with back-off, and no new poll is made
// until it succeeds, so nothing that was read is lost. A lost connection is
// made anew with back-off; a new connection counts only once the device
// has answered a probe request (one entry of the first register; a Modbus
// exception counts as an answer). Run returns nil when ctx ends, within
// one request timeout, or up to 5 s while a dial to a host that does not
// answer is pending: the library's dial timeout is fixed and takes no
// context.
func (in *Input) Run(ctx context.Context, sink connector.Sink) error {
	if !in.ran.CompareAndSwap(false, true) {
		return errors.New("modbus: Run called twice")
	}
	defer in.status.SetState(connector.Stopped)
	connector.Reconnect(ctx, in.status, "device", in.cfg.BackoffMin, in.cfg.BackoffMax,
		func(ctx context.Context) (bool, error) { return in.session(ctx, sink) })
	return nil
}

// session connects, probes and polls until the connection fails or ctx
// ends. connected reports whether the probe succeeded.
func (in *Input) session(ctx context.Context, sink connector.Sink) (connected bool, err error) {
	cl, err := in.open()
	if err != nil {
		return false, err
	}
	defer cl.Close()
	if err := in.probe(cl); err != nil {
		return false, err
	}
	in.status.Connected()
	next := time.Now()
	for {
		pts, err := in.poll(cl, make([]uns.Point, 0, len(in.fields)))
		if err != nil {
			return true, err
		}
		if len(pts) > 0 {
			if err := in.deliver(ctx, sink, pts); err != nil {
				return true, err
			}
		}
		// Missed polls are not made up: a slow poll delays the next one.
		next = next.Add(in.cfg.PollInterval)
		if now := time.Now(); next.Before(now) {
			next = now
		}
		if !backoff.Sleep(ctx, time.Until(next)) {
			return true, ctx.Err()
		}
	}
}

func (in *Input) open() (*mb.ModbusClient, error) {
	parity := map[string]uint{"none": mb.PARITY_NONE, "even": mb.PARITY_EVEN, "odd": mb.PARITY_ODD}[in.cfg.Parity]
	cl, err := mb.NewClient(&mb.ClientConfiguration{
		URL:      in.cfg.URL,
		Timeout:  in.cfg.Timeout,
		Speed:    uint(in.cfg.BaudRate),
		DataBits: uint(in.cfg.DataBits),
		Parity:   parity,
		StopBits: uint(in.cfg.StopBits), // 0: the library's default, which is the specification's
		Logger:   in.libLog,
	})
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", in.cfg.URL, err)
	}
	if err := cl.Open(); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := cl.SetUnitId(uint8(in.cfg.UnitID)); err != nil {
		cl.Close()
		return nil, fmt.Errorf("unit id %d: %w", in.cfg.UnitID, err)
	}
	in.strikes = 0
	return cl, nil
}

// probe reads one entry of the first register: any Modbus answer, an
// exception included, shows the device is there.
func (in *Input) probe(cl *mb.ModbusClient) error {
	f := in.fields[0]
	_, _, err := read(cl, block{table: f.table, addr: f.addr, count: 1})
	if err == nil {
		return nil
	}
	if _, k := classify(err); k == answered {
		return nil
	}
	return fmt.Errorf("probe %v %d: %w", f.table, f.addr, err)
}

// poll reads every block once and appends the points to pts. It returns an
// error only when the connection must be made anew; exceptions, bad frames,
// timeouts and bad values are counted and the other blocks still read.
func (in *Input) poll(cl *mb.ModbusClient, pts []uns.Point) ([]uns.Point, error) {
	for i := 0; i < len(in.blocks); i++ {
		b := in.blocks[i]
		words, bits, err := read(cl, b)
		ts := time.Now().UnixNano()
		if err != nil {
			what := fmt.Sprintf("read %v %d-%d", b.table, b.addr, int(b.addr)+int(b.count)-1)
			reason, k := classify(err)
			switch k {
			case lost:
				return pts, fmt.Errorf("%s: %w", what, err)
			case answered:
				in.strikes = 0
				in.status.Reject(reason, fmt.Sprintf("%s: %v", what, err))
				if errors.Is(err, mb.ErrIllegalDataAddress) && len(b.fields) > 1 {
					// Read the registers one by one from now on, so
					// that one bad address does not hide the others.
					in.blocks = slices.Replace(in.blocks, i, i+1, split(b)...)
					i--
				}
			case flaky:
				in.status.Reject(reason, fmt.Sprintf("%s: %v", what, err))
				if in.strikes++; in.strikes >= maxStrikes {
					return pts, fmt.Errorf("%d requests in a row failed, the last: %s: %w", in.strikes, what, err)
				}
			}
			continue
		}
		in.strikes = 0
		for j := range b.fields {
			f := &b.fields[j]
			off := int(f.addr - b.addr)
			var v uns.Value
			if bits != nil {
				v = uns.Bool(bits[off])
			} else if v, err = f.value(words[off:]); err != nil {
				in.status.Reject(ReasonNotFinite, fmt.Sprintf("%s (%v %d): %v", f.series, f.table, f.addr, err))
				continue
			}
			pts = append(pts, uns.Point{Series: f.series, TS: ts, Value: v})
		}
	}
	return pts, nil
}

// value decodes f from the words of its block starting at f.addr and
// applies scale and offset.
func (f *field) value(words []uint16) (uns.Value, error) {
	v, err := Decode(words, f.typ, f.order)
	if err != nil {
		return v, err
	}
	if !f.scaled && v.Kind() == uns.KindInt {
		return v, nil
	}
	x, _ := v.AsFloat()
	x = x*f.scale + f.offset
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return uns.Value{}, fmt.Errorf("%w: %v", ErrNotFinite, x)
	}
	return uns.Float(x), nil
}

func read(cl *mb.ModbusClient, b block) (words []uint16, bits []bool, err error) {
	switch b.table {
	case holding:
		words, err = cl.ReadRegisters(b.addr, b.count, mb.HOLDING_REGISTER)
	case input:
		words, err = cl.ReadRegisters(b.addr, b.count, mb.INPUT_REGISTER)
	case coil:
		bits, err = cl.ReadCoils(b.addr, b.count)
	default:
		bits, err = cl.ReadDiscreteInputs(b.addr, b.count)
	}
	return words, bits, err
}

// failure is what a failed request says about the connection.
type failure uint8

const (
	answered failure = iota // the device answered with an exception: the link is fine
	flaky                   // bad frame or timeout: the link may be out of step
	lost                    // an I/O error: the connection is gone
)

func classify(err error) (reason string, k failure) {
	var e mb.Error
	if !errors.As(err, &e) {
		if strings.HasPrefix(err.Error(), "unknown exception code") {
			return "unknown_exception", answered
		}
		return "", lost
	}
	switch e {
	case mb.ErrRequestTimedOut:
		return ReasonTimeout, flaky
	case mb.ErrBadCRC:
		return ReasonBadCRC, flaky
	case mb.ErrProtocolError, mb.ErrShortFrame, mb.ErrBadUnitId,
		mb.ErrBadTransactionId, mb.ErrUnknownProtocolId:
		return ReasonBadFrame, flaky
	case mb.ErrIllegalFunction, mb.ErrIllegalDataAddress, mb.ErrIllegalDataValue,
		mb.ErrServerDeviceFailure, mb.ErrAcknowledge, mb.ErrServerDeviceBusy,
		mb.ErrMemoryParityError, mb.ErrGWPathUnavailable:
		return strings.ReplaceAll(string(e), " ", "_"), answered
	case mb.ErrGWTargetFailedToRespond:
		return "gateway_target_failed", answered
	}
	return "", lost
}

// deliver writes pts to sink, retrying the same points with back-off until
// the sink accepts them or ctx ends.
func (in *Input) deliver(ctx context.Context, sink connector.Sink, pts []uns.Point) error {
	if !in.status.Deliver(ctx, "points", len(pts), in.cfg.BackoffMin, in.cfg.BackoffMax,
		func() error { return sink.Write(ctx, pts) }) {
		return ctx.Err()
	}
	in.status.AddPoints(int64(len(pts)))
	return nil
}
