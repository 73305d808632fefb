package modbus_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/modbus"
	"github.com/molen-io/molen/internal/connector/modbus/modbustest"
	"github.com/molen-io/molen/internal/uns"
)

// ptyPair runs socat to join two pseudo-terminals, as a null-modem cable
// joins two serial ports, and returns their paths: the edge's end and the
// device's. Without socat the test skips, unless MOLEN_REQUIRE_SOCAT is
// set (as in CI).
func ptyPair(t *testing.T) (edge, device string) {
	t.Helper()
	socat, err := exec.LookPath("socat")
	if err != nil {
		if os.Getenv("MOLEN_REQUIRE_SOCAT") != "" {
			t.Fatal("MOLEN_REQUIRE_SOCAT is set and socat is not installed (apt-get install socat)")
		}
		t.Skip("socat is not installed (apt-get install socat): no pseudo-terminal pair for the serial test")
	}
	dir := t.TempDir()
	edge, device = filepath.Join(dir, "edge"), filepath.Join(dir, "device")
	cmd := exec.Command(socat, "pty,raw,echo=0,link="+edge, "pty,raw,echo=0,link="+device)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err1 := os.Stat(edge)
		_, err2 := os.Stat(device)
		if err1 == nil && err2 == nil {
			return edge, device
		}
		select {
		case err := <-exited:
			t.Fatalf("socat exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("socat made no pseudo-terminals within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serialPeer is an RTU device on the device's end of a pseudo-terminal
// pair, and the edge's end the input opens.
type serialPeer struct {
	*modbustest.Server
	edge string
}

func newSerialPeer(t *testing.T) *serialPeer {
	t.Helper()
	edge, device := ptyPair(t)
	s, err := modbustest.NewSerialServer(device)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &serialPeer{Server: s, edge: edge}
}

func serialConfig(p *serialPeer) *modbus.Config {
	cfg := fastConfig(p.Server, conformanceRegisters)
	cfg.URL = "rtu://" + p.edge
	cfg.Parity, cfg.StopBits = "none", 2
	// Long enough that a loaded machine does not time out a request the
	// device answered; short enough that a silent device is noticed soon.
	cfg.Timeout = 500 * time.Millisecond
	return cfg
}

// TestConformanceRTUSerial runs the conformance suite over a serial port:
// the input opens one end of a pseudo-terminal pair, the device answers
// RTU on the other. The device "going away" falls silent, as a slave on a
// serial bus does: the input times out, reopens the port and probes until
// it answers again.
func TestConformanceRTUSerial(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		NewPeer: func(t *testing.T) connectortest.Peer {
			p := newSerialPeer(t)
			set(t, p.Server, conformanceRegisters, 0)
			return p
		},
		NewInput: func(t *testing.T, p connectortest.Peer, slow bool) connector.Input {
			return buildInput(t, serialConfig(p.(*serialPeer)), slow)
		},
		Produce: func(t *testing.T, p connectortest.Peer, round int) map[string]uns.Value {
			return set(t, p.(*serialPeer).Server, conformanceRegisters, round)
		},
		Bad: func(t *testing.T, p connectortest.Peer) string {
			p.(*serialPeer).GarbleNext(1)
			return modbus.ReasonBadCRC
		},
		Redelivery: connectortest.Retry,
		// The device's relay connects to the library's server when the
		// device starts; the server's goroutine for that connection may
		// start after the suite counted the goroutines.
		GoroutineSlack: 1,
	})
}

// TestSerialTimeouts: requests a silent device leaves unanswered are
// counted as timeouts; three in a row reopen the port, and reading goes on
// once the device answers again.
func TestSerialTimeouts(t *testing.T) {
	p := newSerialPeer(t)
	want := set(t, p.Server, conformanceRegisters, 1)
	cfg := serialConfig(p)
	cfg.Timeout = 50 * time.Millisecond // the device is silent: nothing to wait for
	in := buildInput(t, cfg, false)
	sink := connectortest.NewSink()
	done := make(chan error, 1)
	go func() { done <- in.Run(t.Context(), sink) }()
	t.Cleanup(func() { <-done }) // t.Context ends before cleanups run
	connectortest.WaitFor(t, "a first reading", func() bool { return sink.Len() >= len(want) })

	p.Stop()
	connectortest.WaitFor(t, "three timeouts and the port reopened", func() bool {
		st := in.Status()
		return st.Rejected[modbus.ReasonTimeout] >= 3 && st.State == connector.Disconnected
	})
	p.Start()
	want = set(t, p.Server, conformanceRegisters, 2)
	connectortest.WaitFor(t, "round 2's values", func() bool {
		got := map[string]uns.Value{}
		for _, pt := range sink.Points() {
			got[pt.Series] = pt.Value
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	})
	// At least the reopening: a busy machine may leave a 50 ms answer
	// late and the port be reopened once more, which is not wrong.
	if st := in.Status(); st.Connects < 2 {
		t.Errorf("connects %d, want at least 2 (the port reopened)", st.Connects)
	}
}
