// Package mqtttest runs a Mosquitto broker for tests that restart the
// broker as a plant's broker is restarted (an update, a reboot): with its
// persistence, so that the sessions of its clients, their subscriptions and
// the QoS 1 messages queued for them survive the restart. The in-process
// broker the other tests use (mochi) keeps nothing across a restart.
package mqtttest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Mosquitto is a mosquitto process on a port of 127.0.0.1 that stays the
// same across Stop and Start, with its persistence in a directory of the
// test.
type Mosquitto struct {
	t    testing.TB
	dir  string
	addr string
	conf string // extra lines of mosquitto.conf

	mu     sync.Mutex    // guards cmd and exited
	cmd    *exec.Cmd     // nil while stopped
	exited chan struct{} // closed when cmd has exited
	out    *tail
}

// StartMosquitto starts Mosquitto for t and stops it when t ends. It skips
// t if the mosquitto binary is not installed.
func StartMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	return StartMosquittoWith(t, "")
}

// StartMosquittoWith is StartMosquitto with extra lines of mosquitto.conf
// ("max_queued_messages 0\n").
func StartMosquittoWith(t testing.TB, conf string) *Mosquitto {
	t.Helper()
	if _, err := exec.LookPath("mosquitto"); err != nil {
		t.Skip("mosquitto is not installed")
	}
	// Mosquitto needs its port in its config: take a free one from the
	// kernel and hand it over; the window in which another process could
	// take it is short.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &Mosquitto{t: t, dir: t.TempDir(), addr: l.Addr().String(), conf: conf}
	l.Close()
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// Addr is the broker's address, host:port.
func (m *Mosquitto) Addr() string { return m.addr }

// URL is the broker's address as an input's url, tcp://host:port.
func (m *Mosquitto) URL() string { return "tcp://" + m.addr }

// Start starts the broker (again), with what it persisted when it stopped,
// and returns once it listens.
func (m *Mosquitto) Start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	_, port, _ := net.SplitHostPort(m.addr)
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n",
		port, m.dir) + m.conf
	if u, err := user.Current(); err == nil {
		// Run as root, Mosquitto drops to the user "mosquitto", which
		// cannot write the test's directory.
		conf += "user " + u.Username + "\n"
	}
	file := filepath.Join(m.dir, "mosquitto.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		m.t.Fatal(err)
	}
	cmd := exec.Command("mosquitto", "-c", file)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		m.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	m.out = &tail{}
	running := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		ready := false
		for sc.Scan() {
			m.out.add(sc.Text())
			if !ready && strings.Contains(sc.Text(), " running") {
				ready = true
				close(running)
			}
		}
		cmd.Wait()
	}()
	select {
	case <-running:
	case <-exited:
		m.t.Fatalf("mosquitto exited at start:\n%s", m.out)
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
		m.t.Fatalf("mosquitto not running within 10s:\n%s", m.out)
	}
	m.cmd, m.exited = cmd, exited
}

// Stop stops the broker as a service manager does (SIGTERM): it closes its
// clients' connections and writes its persistence file. Stop returns once
// it exited.
func (m *Mosquitto) Stop() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		m.cmd.Process.Kill()
		<-m.exited
		m.t.Errorf("mosquitto did not stop within 10s of SIGTERM:\n%s", m.out)
	}
	m.cmd = nil
}

// tail keeps the last lines mosquitto logged, for failure messages.
type tail struct {
	mu    sync.Mutex // guards lines
	lines []string
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 50 {
		t.lines = t.lines[1:]
	}
	t.lines = append(t.lines, line)
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
