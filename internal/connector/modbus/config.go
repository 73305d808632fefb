package modbus

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// Protocol limits (Modbus application protocol v1.1b3, 6.1–6.4).
const (
	MaxRegistersPerRead = 125  // function codes 3 and 4
	MaxBitsPerRead      = 2000 // function codes 1 and 2
)

// Config is one Modbus device (one unit id behind one TCP address).
type Config struct {
	// URL is tcp://host:port (Modbus TCP), rtuovertcp://host:port (RTU
	// frames through a serial-to-Ethernet gateway in transparent mode) or
	// rtu:///dev/ttyUSB0 (RTU on a serial port of the edge itself).
	URL string `yaml:"url"`
	// UnitID addresses the device: the slave id behind a gateway, usually
	// 1 for a PLC spoken to directly.
	UnitID int `yaml:"unit_id"`
	// PollInterval is the time between the starts of two polls of all
	// registers. A poll that takes longer delays the next one; missed polls
	// are not made up.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Timeout bounds one request (and so how long Run takes to return after
	// its context ends).
	Timeout time.Duration `yaml:"timeout"`
	// MaxRegisters caps the registers read in one request (1..125); lower it
	// for devices with smaller buffers.
	MaxRegisters int `yaml:"max_registers"`
	// MaxGap is the number of unconfigured registers a request may read
	// through to join two registers into one request. Coils and discrete
	// inputs may read through 16 times as many bits (the same bytes).
	MaxGap int `yaml:"max_gap"`
	// ByteOrder and WordOrder are the defaults for every register: "big" or
	// "little" (bytes within a register), "high_first" or "low_first"
	// (registers within a 32- or 64-bit value).
	ByteOrder string `yaml:"byte_order"`
	WordOrder string `yaml:"word_order"`
	// BaudRate is the serial line speed: of the edge's port (rtu), or behind
	// an rtuovertcp gateway, where it sets the RTU inter-frame delay;
	// ignored for tcp.
	BaudRate int `yaml:"baud_rate"`
	// Parity (none, even or odd), DataBits (7 or 8) and StopBits (1 or 2;
	// 0 means 1 with parity and 2 without, as the Modbus serial line
	// specification asks) set the edge's serial port; rtu only.
	Parity   string `yaml:"parity"`
	DataBits int    `yaml:"data_bits"`
	StopBits int    `yaml:"stop_bits"`
	// BackoffMin and BackoffMax bound the wait between reconnection
	// attempts, which doubles from min to max while the device is away.
	// The same back-off applies to retries of a write the sink refused.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// Registers maps device registers onto UNS series.
	Registers []Register `yaml:"registers"`
}

// Register maps one value of the device onto a UNS series.
type Register struct {
	// Path is the UNS series path, e.g. plant/hall/line-1/press/oil_temp_c.
	Path string `yaml:"path"`
	// Table is holding (default), input, coil or discrete.
	Table string `yaml:"table"`
	// Address is the 0-based protocol address (register 40001 is holding
	// address 0).
	Address int `yaml:"address"`
	// Type is int16, uint16 (default for registers), int32, uint32, float32
	// or float64; coils and discrete inputs are bool and take no type.
	Type string `yaml:"type"`
	// ByteOrder and WordOrder override the device's defaults.
	ByteOrder string `yaml:"byte_order"`
	WordOrder string `yaml:"word_order"`
	// Scale and Offset make the value raw*scale + offset. A scale of 0
	// (unset) means 1. With either set, integer registers become floats.
	Scale  float64 `yaml:"scale"`
	Offset float64 `yaml:"offset"`
}

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{
		UnitID:       1,
		PollInterval: time.Second,
		Timeout:      time.Second,
		MaxRegisters: MaxRegistersPerRead,
		MaxGap:       0,
		ByteOrder:    "big",
		WordOrder:    "high_first",
		BaudRate:     19200,
		Parity:       "even",
		DataBits:     8,
		BackoffMin:   500 * time.Millisecond,
		BackoffMax:   30 * time.Second,
	}
}

// Validate checks c; its errors name the field, e.g.
// "registers[3].address: must be 0..65535".
func (c *Config) Validate() error {
	_, err := compile(c)
	return err
}

// table is one of the four Modbus data tables.
type table uint8

const (
	holding table = iota
	input
	coil
	discrete
)

var tableNames = [...]string{holding: "holding", input: "input", coil: "coil", discrete: "discrete"}

func (t table) String() string { return tableNames[t] }

func (t table) bits() bool { return t == coil || t == discrete }

// field is a compiled Register.
type field struct {
	series string
	table  table
	addr   uint16
	typ    Type
	order  Order
	scale  float64
	offset float64
	scaled bool // scale != 1 or offset != 0: the value becomes a float
}

// span is the number of table entries (registers or bits) the field covers.
func (f *field) span() int {
	if f.table.bits() {
		return 1
	}
	return f.typ.Words()
}

// compile checks c and turns its registers into fields. It is the single
// place that interprets a Config, so that Validate and Build agree.
func compile(c *Config) ([]field, error) {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	const urls = "tcp://host:port, rtuovertcp://host:port or rtu:///dev/<serial port>"
	switch scheme, hostport, ok := strings.Cut(c.URL, "://"); {
	case c.URL == "":
		bad("url", "required (%s)", urls)
	case !ok || scheme != "tcp" && scheme != "rtuovertcp" && scheme != "rtu":
		bad("url", "%q: want %s", c.URL, urls)
	case scheme == "rtu":
		if !strings.HasPrefix(hostport, "/") || strings.ContainsAny(hostport, "?#") {
			bad("url", "%q: want rtu:// and the serial port's absolute path, e.g. rtu:///dev/ttyUSB0", c.URL)
		}
	default:
		if _, port, err := net.SplitHostPort(hostport); err != nil || port == "" {
			bad("url", "%q: want host:port after the scheme", c.URL)
		}
	}
	if c.UnitID < 1 || c.UnitID > 247 {
		bad("unit_id", "must be 1..247")
	}
	if c.PollInterval <= 0 {
		bad("poll_interval", "must be > 0")
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be > 0")
	}
	if c.MaxRegisters < 1 || c.MaxRegisters > MaxRegistersPerRead {
		bad("max_registers", "must be 1..%d", MaxRegistersPerRead)
	}
	if c.MaxGap < 0 || c.MaxGap >= MaxRegistersPerRead {
		bad("max_gap", "must be 0..%d", MaxRegistersPerRead-1)
	}
	devOrder, err := parseOrder(Order{}, "", c.ByteOrder, c.WordOrder)
	if err != nil {
		errs = append(errs, err)
	}
	if c.BaudRate < 300 || c.BaudRate > 1_000_000 {
		bad("baud_rate", "must be 300..1000000")
	}
	switch c.Parity {
	case "none", "even", "odd":
	default:
		bad("parity", "%q: want none, even or odd", c.Parity)
	}
	if c.DataBits != 7 && c.DataBits != 8 {
		bad("data_bits", "must be 7 or 8")
	}
	if c.StopBits < 0 || c.StopBits > 2 {
		bad("stop_bits", "must be 1 or 2 (0: 1 with parity, 2 without)")
	}
	if c.BackoffMin <= 0 {
		bad("backoff_min", "must be > 0")
	}
	if c.BackoffMax < c.BackoffMin {
		bad("backoff_max", "must be >= backoff_min")
	}
	if len(c.Registers) == 0 {
		bad("registers", "at least one register is required")
	}
	fields := make([]field, 0, len(c.Registers))
	seen := make(map[string]int, len(c.Registers))
	for i, r := range c.Registers {
		at := fmt.Sprintf("registers[%d]", i)
		n := len(errs)
		f := field{series: r.Path, scale: r.Scale, offset: r.Offset}
		if err := uns.ValidatePath(r.Path); err != nil {
			bad(at+".path", "%v", err)
		} else if j, dup := seen[r.Path]; dup {
			bad(at+".path", "%q is already registers[%d].path", r.Path, j)
		} else {
			seen[r.Path] = i
		}
		switch r.Table {
		case "", "holding":
			f.table = holding
		case "input":
			f.table = input
		case "coil":
			f.table = coil
		case "discrete":
			f.table = discrete
		default:
			bad(at+".table", "%q: want holding, input, coil or discrete", r.Table)
		}
		if f.table.bits() {
			f.typ = Bool
			if r.Type != "" && r.Type != "bool" {
				bad(at+".type", "%q: a %v is bool", r.Type, f.table)
			}
			if r.Scale != 0 || r.Offset != 0 || r.ByteOrder != "" || r.WordOrder != "" {
				bad(at, "a %v takes no scale, offset, byte_order or word_order", f.table)
			}
		} else {
			f.typ = Uint16
			if r.Type != "" {
				if f.typ, err = ParseType(r.Type); err != nil {
					bad(at+".type", "%v", err)
				} else if f.typ == Bool {
					bad(at+".type", "bool is for coils and discrete inputs; a register is int16, uint16, int32, uint32, float32 or float64")
				}
			}
		}
		if f.scale == 0 {
			f.scale = 1
		}
		if math.IsNaN(f.scale) || math.IsInf(f.scale, 0) || math.IsNaN(f.offset) || math.IsInf(f.offset, 0) {
			bad(at, "scale and offset must be finite")
		}
		f.scaled = f.scale != 1 || f.offset != 0
		if f.order, err = parseOrder(devOrder, at+".", r.ByteOrder, r.WordOrder); err != nil {
			errs = append(errs, err)
		}
		if r.Address < 0 || r.Address > math.MaxUint16 {
			bad(at+".address", "must be 0..65535")
		} else if end := r.Address + f.span() - 1; end > math.MaxUint16 {
			bad(at+".address", "%d: a %v ends at %d, past 65535", r.Address, f.typ, end)
		}
		f.addr = uint16(r.Address)
		if len(errs) == n {
			fields = append(fields, f)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return fields, nil
}

// parseOrder applies byte and word order names over def; empty names keep
// def's choice. at prefixes the field names in errors.
func parseOrder(def Order, at, byteOrder, wordOrder string) (Order, error) {
	o := def
	var errs []error
	switch byteOrder {
	case "":
	case "big":
		o.ByteSwap = false
	case "little":
		o.ByteSwap = true
	default:
		errs = append(errs, fmt.Errorf("%sbyte_order: %q: want big or little", at, byteOrder))
	}
	switch wordOrder {
	case "":
	case "high_first":
		o.LowWordFirst = false
	case "low_first":
		o.LowWordFirst = true
	default:
		errs = append(errs, fmt.Errorf("%sword_order: %q: want high_first or low_first", at, wordOrder))
	}
	return o, errors.Join(errs...)
}
