package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// child is a molen process the bench started.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string // its output
	done chan error
}

func startChild(bin, dir, name string, args ...string) (*child, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, name+".log")
	out, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{name}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start molen %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		out.Close()
		c.done <- err
	}()
	return c, nil
}

// stop ends the process as Ctrl-C does and waits for it (killing it after
// a minute).
func (c *child) stop() error {
	if c == nil {
		return nil
	}
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-c.done:
		if err != nil {
			return fmt.Errorf("molen %s: %w (log: %s)", c.name, err, c.log)
		}
		return nil
	case <-time.After(time.Minute):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("molen %s did not stop within a minute (log: %s)", c.name, c.log)
	}
}

func (c *child) pid() int {
	if c == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// tail is the end of the process's log, for an error message.
func (c *child) tail() string {
	b, _ := os.ReadFile(c.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// freeAddr returns an address on 127.0.0.1 that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitFor polls ok until it is true, the child ends, or a minute passes.
func waitFor(ctx context.Context, c *child, what string, ok func() bool) error {
	return waitWithin(ctx, c, what, time.Minute, ok)
}

// waitWithin is waitFor with a limit of d.
func waitWithin(ctx context.Context, c *child, what string, d time.Duration, ok func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !ok() {
		select {
		case err := <-c.done:
			c.done <- err
			return fmt.Errorf("molen %s ended before %s: %v\n%s", c.name, what, err, c.tail())
		case <-ctx.Done():
			return fmt.Errorf("%s: %w\n%s", what, ctx.Err(), c.tail())
		case <-t.C:
		}
	}
	return nil
}

func httpOK(ctx context.Context, url string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// createEdge registers an edge at the hub and returns its enrollment
// token.
func createEdge(ctx context.Context, hubURL, token, name string) (string, error) {
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hubURL+"/api/v1/edges", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("register the edge at the hub: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		EnrollToken string `json:"enroll_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("register the edge at the hub: %s", resp.Status)
	}
	return out.EnrollToken, nil
}

// follow reads the hub's live stream of the probe topic and adds, for
// every point, how long after its device timestamp it arrived. It returns
// when ctx ends.
func follow(ctx context.Context, hubURL, token, probe string, lat *latencies, ready chan<- error) {
	u := hubURL + "/api/v1/live?prefix=" + url.QueryEscape(probe)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		ready <- err
		return
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ready <- fmt.Errorf("follow the hub's live stream: %w", err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		ready <- fmt.Errorf("follow the hub's live stream: %s", resp.Status)
		return
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == ": connected" && ready != nil {
			ready <- nil
			ready = nil
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		now := time.Now()
		var msg struct {
			Points []struct {
				TS time.Time `json:"ts"`
			} `json:"points"`
		}
		if json.Unmarshal([]byte(data), &msg) != nil {
			continue
		}
		for _, p := range msg.Points {
			lat.add(now.Sub(p.TS))
		}
	}
	if ready != nil {
		ready <- errors.New("the hub's live stream ended before it connected")
	}
}
