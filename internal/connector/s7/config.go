package s7

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// Config is one S7 PLC (one CPU at one address).
type Config struct {
	// Address is the PLC's host, or host:port (the port of ISO-on-TCP is
	// 102).
	Address string `yaml:"address"`
	// Rack and Slot locate the CPU: 0 and 1 for an S7-1200 or S7-1500, 0
	// and 2 for an S7-300.
	Rack int `yaml:"rack"`
	Slot int `yaml:"slot"`
	// ConnectionType is pg (programming device, the default), op (operator
	// panel) or basic: the resource the CPU gives the connection.
	ConnectionType string `yaml:"connection_type"`
	// PDUSize is the PDU length asked for at setup (240..960); the CPU may
	// grant less, and requests are cut to what it granted.
	PDUSize int `yaml:"pdu_size"`
	// MaxGap is the number of unconfigured bytes one read may read through
	// to join two items of a data block into one.
	MaxGap int `yaml:"max_gap"`
	// PollInterval is the time between the starts of two polls of all
	// items; missed polls are not made up.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Timeout bounds connecting and one request.
	Timeout time.Duration `yaml:"timeout"`
	// BackoffMin and BackoffMax bound the wait between reconnection
	// attempts, and between retries of a write the sink refused.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// Items maps values of data blocks onto UNS series.
	Items []Item `yaml:"items"`
}

// Item is one value in a data block.
type Item struct {
	// Path is the UNS series.
	Path string `yaml:"path"`
	// DB is the data block's number; Byte the value's byte offset in it,
	// and Bit the bit of a bool (DB1.DBX4.3 is db 1, byte 4, bit 3).
	DB   int `yaml:"db"`
	Byte int `yaml:"byte"`
	Bit  int `yaml:"bit"`
	// Type is bool, byte, int, word, dint, dword, real or lreal.
	Type string `yaml:"type"`
}

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{
		Slot:           1,
		ConnectionType: "pg",
		PDUSize:        480,
		MaxGap:         16,
		PollInterval:   time.Second,
		Timeout:        2 * time.Second,
		BackoffMin:     500 * time.Millisecond,
		BackoffMax:     30 * time.Second,
	}
}

// Validate checks c; its errors name the field, e.g. "items[2].type: …".
func (c *Config) Validate() error {
	_, err := compile(c)
	return err
}

// Type is an S7 data type.
type Type uint8

// The types, as STEP 7 names them.
const (
	Bool  Type = iota + 1
	Byte       // 8 bits, unsigned
	Int        // 16 bits, signed
	Word       // 16 bits, unsigned
	DInt       // 32 bits, signed
	DWord      // 32 bits, unsigned
	Real       // IEEE 754 single
	LReal      // IEEE 754 double
)

var typeNames = map[string]Type{
	"bool": Bool, "byte": Byte, "int": Int, "word": Word,
	"dint": DInt, "dword": DWord, "real": Real, "lreal": LReal,
}

// size is the type's length in bytes.
func (t Type) size() int {
	switch t {
	case Int, Word:
		return 2
	case DInt, DWord, Real:
		return 4
	case LReal:
		return 8
	}
	return 1
}

// connectionTypes are the first byte of the remote TSAP.
var connectionTypes = map[string]byte{"pg": 0x01, "op": 0x02, "basic": 0x03}

// field is a compiled Item.
type field struct {
	series string
	db     uint16
	byte   int
	bit    uint8
	typ    Type
}

// compile checks c and compiles its items; Validate and New share it.
func compile(c *Config) ([]field, error) {
	var errs []error
	bad := func(at, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", at, fmt.Sprintf(format, args...)))
	}
	if c.Address == "" {
		bad("address", "required (the PLC's host, or host:port)")
	} else if host, port, err := net.SplitHostPort(hostPort(c.Address)); err != nil || host == "" || !validPort(port) {
		bad("address", "%q: want host or host:port ([v6 address]:port)", c.Address)
	}
	if c.Rack < 0 || c.Rack > 7 {
		bad("rack", "must be 0..7")
	}
	if c.Slot < 0 || c.Slot > 31 {
		bad("slot", "must be 0..31")
	}
	if _, ok := connectionTypes[c.ConnectionType]; !ok {
		bad("connection_type", "%q: want pg, op or basic", c.ConnectionType)
	}
	if c.PDUSize < minPDU || c.PDUSize > maxPDU {
		bad("pdu_size", "must be %d..%d", minPDU, maxPDU)
	}
	if c.MaxGap < 0 || c.MaxGap > maxPDU {
		bad("max_gap", "must be 0..%d", maxPDU)
	}
	if c.PollInterval <= 0 {
		bad("poll_interval", "must be > 0")
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be > 0")
	}
	if c.BackoffMin <= 0 {
		bad("backoff_min", "must be > 0")
	}
	if c.BackoffMax < c.BackoffMin {
		bad("backoff_max", "must be >= backoff_min")
	}
	if len(c.Items) == 0 {
		bad("items", "at least one item is required")
	}
	var fields []field
	seen := map[string]int{}
	for i, it := range c.Items {
		at := fmt.Sprintf("items[%d]", i)
		n := len(errs)
		typ, ok := typeNames[it.Type]
		if !ok {
			names := make([]string, 0, len(typeNames))
			for name := range typeNames {
				names = append(names, name)
			}
			slices.Sort(names)
			bad(at+".type", "%q: want one of %v", it.Type, names)
		}
		if err := uns.ValidatePath(it.Path); err != nil {
			bad(at+".path", "%v", err)
		} else if j, dup := seen[it.Path]; dup {
			bad(at+".path", "%q is already items[%d].path", it.Path, j)
		} else {
			seen[it.Path] = i
		}
		if it.DB < 1 || it.DB > 65535 {
			bad(at+".db", "must be 1..65535")
		}
		if it.Byte < 0 || it.Byte > maxByte {
			bad(at+".byte", "must be 0..%d", maxByte)
		}
		if it.Bit < 0 || it.Bit > 7 {
			bad(at+".bit", "must be 0..7")
		} else if it.Bit != 0 && typ != Bool {
			bad(at+".bit", "only a bool has a bit")
		}
		if len(errs) == n {
			fields = append(fields, field{series: it.Path, db: uint16(it.DB), byte: it.Byte, bit: uint8(it.Bit), typ: typ})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return fields, nil
}

// hostPort adds the ISO-on-TCP port to an address without one; a bare
// IPv6 address must be in brackets with a port.
func hostPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil || strings.Contains(addr, ":") {
		return addr
	}
	return net.JoinHostPort(addr, "102")
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}
