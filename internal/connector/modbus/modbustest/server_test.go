package modbustest

import (
	"errors"
	"sync/atomic"
	"testing"

	mb "github.com/simonvetter/modbus"
)

func client(t *testing.T, url string) *mb.ModbusClient {
	t.Helper()
	cl, err := mb.NewClient(&mb.ClientConfiguration{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func TestServeFactory(t *testing.T) {
	var n atomic.Uint32
	addr, err := ServeFactory(t.Context(), "127.0.0.1:0", func() map[uint16]uint16 {
		v := uint16(n.Add(1))
		return map[uint16]uint16{100: v, 101: 2 * v}
	})
	if err != nil {
		t.Fatal(err)
	}
	cl := client(t, "tcp://"+addr)
	for want := uint16(1); want <= 3; want++ {
		got, err := cl.ReadRegisters(100, 2, mb.HOLDING_REGISTER)
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != want || got[1] != 2*want {
			t.Errorf("read %d: %v, want [%d %d]", want, got, want, 2*want)
		}
	}
	if _, err := cl.ReadRegisters(102, 1, mb.HOLDING_REGISTER); !errors.Is(err, mb.ErrIllegalDataAddress) {
		t.Errorf("unserved address: %v, want illegal data address", err)
	}
}

func TestServerRestartAndFraming(t *testing.T) {
	for _, f := range []Framing{TCP, RTUOverTCP} {
		t.Run(f.String(), func(t *testing.T) {
			s, err := NewServer(f)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.SetInput(5, 42)
			s.SetCoils(0, true, false, true)
			cl := client(t, s.URL())
			if v, err := cl.ReadRegisters(5, 1, mb.INPUT_REGISTER); err != nil || v[0] != 42 {
				t.Fatalf("input 5: %v, %v", v, err)
			}
			if v, err := cl.ReadCoils(0, 3); err != nil || !v[0] || v[1] || !v[2] {
				t.Fatalf("coils: %v, %v", v, err)
			}
			s.GarbleNext(1)
			if _, err := cl.ReadRegisters(5, 1, mb.INPUT_REGISTER); err == nil {
				t.Fatal("garbled response: no error")
			}
			if err := s.Stop(); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.ReadRegisters(5, 1, mb.INPUT_REGISTER); err == nil {
				t.Fatal("read from a stopped server: no error")
			}
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			cl2 := client(t, s.URL())
			if v, err := cl2.ReadRegisters(5, 1, mb.INPUT_REGISTER); err != nil || v[0] != 42 {
				t.Fatalf("after restart: %v, %v", v, err)
			}
		})
	}
}
