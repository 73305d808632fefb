package edge

import (
	"archive/tar"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/molen-io/molen/internal/backoff"
	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// Remote diagnostics (docs/fleet.md#diagnostics, ADR edge-commands): the
// edge long-polls the hub for commands with its own identity, runs them
// and posts their results. Behind a factory's NAT the hub cannot call
// the edge; the edge's poll also learns at once that its manifest
// changed.

// DefaultCommandWait is how long the hub holds the edge's long poll.
const DefaultCommandWait = 25 * time.Second

// Bounds of what diagnostics keep and send.
const (
	logRingSize      = 500     // recent log records kept
	logTextMax       = 1 << 10 // bytes of one record's message and attributes
	recentPerSeries  = 64      // recent raw points kept per series
	recentSeriesMax  = 512     // series whose recent points are kept
	testOutputMax    = 1000    // output lines a pipeline test returns
	maxBundleBytes   = 4 << 20 // a support bundle, compressed
	bundleLogRecords = logRingSize
)

// logRecord is one kept log record.
type logRecord struct {
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	Msg   string    `json:"msg"`
	Attrs string    `json:"attrs,omitempty"` // key=value …, secrets redacted
}

// logRing keeps the edge's recent log records, bounded.
type logRing struct {
	mu   sync.Mutex // guards recs and next
	recs []logRecord
	next int
}

func (r *logRing) add(rec logRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) < logRingSize {
		r.recs = append(r.recs, rec)
		return
	}
	r.recs[r.next] = rec
	r.next = (r.next + 1) % logRingSize
}

// records are the kept records, oldest first.
func (r *logRing) records() []logRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(slices.Clone(r.recs[r.next:]), r.recs[:r.next]...)
}

// teeHandler passes records on to the edge's handler and keeps those of
// info and above in the ring, with secrets redacted.
type teeHandler struct {
	next   slog.Handler
	ring   *logRing
	attrs  []slog.Attr
	prefix string // of the groups opened, "a.b."
}

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		var b strings.Builder
		var add func(prefix string, a slog.Attr) bool
		add = func(prefix string, a slog.Attr) bool {
			v := a.Value.Resolve()
			if v.Kind() == slog.KindGroup {
				for _, g := range v.Group() {
					if !add(prefix+a.Key+".", g) {
						return false
					}
				}
				return true
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			key := prefix + a.Key
			b.WriteString(key)
			b.WriteByte('=')
			if secretKey(key) {
				b.WriteString("[redacted]")
			} else {
				fmt.Fprintf(&b, "%q", v.String())
			}
			return b.Len() < logTextMax
		}
		for _, a := range h.attrs {
			add("", a)
		}
		r.Attrs(func(a slog.Attr) bool { return add(h.prefix, a) })
		h.ring.add(logRecord{Time: r.Time.UTC(), Level: r.Level.String(), Msg: cut(Redact(r.Message), logTextMax), Attrs: cut(Redact(b.String()), logTextMax)})
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := h
	out.next = h.next.WithAttrs(as)
	out.attrs = slices.Clip(h.attrs)
	for _, a := range as {
		a.Key = h.prefix + a.Key
		out.attrs = append(out.attrs, a)
	}
	return out
}

func (h teeHandler) WithGroup(name string) slog.Handler {
	out := h
	out.next = h.next.WithGroup(name)
	out.prefix = h.prefix + name + "."
	return out
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// secretWords mark a key whose value is a secret (an input's password, a
// token, a private key file's content).
var secretWords = []string{"password", "passwd", "secret", "token", "credential", "private", "authorization", "api_key", "apikey"}

func secretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

var (
	urlUserInfo  = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s"]+@`)
	molenSecrets = regexp.MustCompile(`\bml[a-z]_[A-Za-z0-9_-]{8,}`)
	bearer       = regexp.MustCompile(`(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+`)
)

// Redact removes what looks like a secret from text that leaves the edge
// (diagnostics): user information in URLs, molen's own secrets (their
// ml?_ prefixes) and Authorization header values.
func Redact(s string) string {
	s = urlUserInfo.ReplaceAllString(s, "${1}[redacted]@")
	s = molenSecrets.ReplaceAllString(s, "[redacted]")
	return bearer.ReplaceAllString(s, "$1 [redacted]")
}

// redactJSON replaces the values of secret keys in a JSON document, and
// redacts every string (Redact); a document that does not decode is
// redacted as text.
func redactJSON(doc []byte) json.RawMessage {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		b, _ := json.Marshal(Redact(string(doc)))
		return b
	}
	b, _ := json.Marshal(redactValue(v))
	return b
}

func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			// A secret is a string; counters such as refused
			// bad_credentials are not.
			if _, isText := val.(string); isText && secretKey(k) {
				x[k] = "[redacted]"
			} else {
				x[k] = redactValue(val)
			}
		}
	case []any:
		for i := range x {
			x[i] = redactValue(x[i])
		}
	case string:
		return Redact(x)
	}
	return v
}

// recentPoints keeps a bounded sample of the raw points the edge
// received, the recent ones of each series, for a draft pipeline's test
// on live data. Series beyond recentSeriesMax are not kept.
type recentPoints struct {
	mu     sync.Mutex // guards series
	series map[string]*pointRing
}

type pointRing struct {
	pts  []uns.Point
	next int
}

func (r *recentPoints) add(pts []uns.Point) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.series == nil {
		r.series = map[string]*pointRing{}
	}
	for _, p := range pts {
		ring := r.series[p.Series]
		if ring == nil {
			if len(r.series) >= recentSeriesMax {
				continue
			}
			ring = &pointRing{}
			r.series[p.Series] = ring
		}
		if len(ring.pts) < recentPerSeries {
			ring.pts = append(ring.pts, p)
			continue
		}
		ring.pts[ring.next] = p
		ring.next = (ring.next + 1) % recentPerSeries
	}
}

// sample returns the kept points in time order.
func (r *recentPoints) sample() []uns.Point {
	r.mu.Lock()
	var out []uns.Point
	for _, ring := range r.series {
		out = append(out, ring.pts...)
	}
	r.mu.Unlock()
	slices.SortStableFunc(out, func(a, b uns.Point) int { return cmp.Compare(a.TS, b.TS) })
	return out
}

// PipelineTest is the result of a pipeline-test command: a draft
// pipeline run, as `molen pipeline test` runs one, on the edge's recent
// live points. The running pipeline is not touched.
type PipelineTest struct {
	PointsIn  int      `json:"points_in"`
	Series    int      `json:"series"`
	Output    []string `json:"output"` // JSON lines: points and events
	Truncated bool     `json:"truncated,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Explain   string   `json:"explain"`
}

// testPipeline runs a draft pipeline specification on the recent points.
func (e *Edge) testPipeline(spec string) (PipelineTest, error) {
	def, err := pipeline.Parse([]byte(spec))
	if err != nil {
		return PipelineTest{}, fmt.Errorf("spec: %w", err)
	}
	pts := e.recent.sample()
	var in bytes.Buffer
	var line []byte
	series := map[string]bool{}
	for _, p := range pts {
		line = pipeline.AppendPointJSON(line[:0], p, false)
		in.Write(line)
		series[p.Series] = true
	}
	var out bytes.Buffer
	stats, err := pipeline.Replay(def, &in, &out)
	if err != nil {
		return PipelineTest{}, err
	}
	res := PipelineTest{PointsIn: len(pts), Series: len(series), Warnings: def.Warnings(), Output: []string{}}
	for l := range strings.Lines(out.String()) {
		if len(res.Output) == testOutputMax {
			res.Truncated = true
			break
		}
		res.Output = append(res.Output, strings.TrimSuffix(l, "\n"))
	}
	var ex bytes.Buffer
	_ = pipeline.WriteExplain(&ex, stats)
	res.Explain = ex.String()
	return res, nil
}

// restartInput stops an input and starts it anew from its configuration:
// a new connection to its device or broker. name is its path
// (inputs.packer, inputs[0]) or its name in the manifest (packer).
func (e *Edge) restartInput(name string) error {
	// Not while a manifest is applied: that changes the inputs too.
	e.managed.mu.Lock()
	defer e.managed.mu.Unlock()
	e.inputsMu.Lock()
	i := slices.IndexFunc(e.inputs, func(in managedInput) bool { return in.path == name || in.path == "inputs."+name })
	if i < 0 {
		names := make([]string, len(e.inputs))
		for j, in := range e.inputs {
			names[j] = in.path
		}
		e.inputsMu.Unlock()
		return fmt.Errorf("no input %q (the edge runs %v)", name, names)
	}
	old := e.inputs[i]
	e.inputsMu.Unlock()
	in, err := old.conf.Build(e.log)
	if err != nil {
		return fmt.Errorf("build input %s: %w", old.path, err)
	}
	old.cancel()
	<-old.done
	next := managedInput{input: input{path: old.path, kind: old.kind, in: in}, digest: old.digest, conf: old.conf}
	e.runInput(&next)
	e.inputsMu.Lock()
	if j := slices.IndexFunc(e.inputs, func(in managedInput) bool { return in.path == old.path }); j >= 0 {
		e.inputs[j] = next
	}
	e.inputsMu.Unlock()
	e.log.Info("input restarted on the hub's request", "input", old.path, "kind", old.kind)
	return nil
}

// bundle makes a support bundle: a tar.gz of the edge's status, recent
// logs, the manifest it runs (secrets redacted), versions and metrics,
// at most maxBundleBytes.
func (e *Edge) bundle() ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	now := time.Now()
	add := func(name string, data []byte) error {
		if buf.Len()+len(data)/4 > maxBundleBytes {
			data = []byte("left out: the bundle would exceed its limit\n")
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	status, _ := json.MarshalIndent(e.Status(), "", "  ")
	var logs bytes.Buffer
	for _, r := range e.logs.records() {
		b, _ := json.Marshal(r)
		logs.Write(b)
		logs.WriteByte('\n')
	}
	e.managed.mu.Lock()
	var manifest json.RawMessage = []byte("null")
	if m := e.managed.state.Current; m != nil {
		red := *m
		red.Parts = slices.Clone(m.Parts)
		for i := range red.Parts {
			red.Parts[i].Content = redactJSON(red.Parts[i].Content)
		}
		manifest, _ = json.MarshalIndent(red, "", "  ")
	}
	e.managed.mu.Unlock()
	info := map[string]string{"molen": e.cfg.Version, "go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH,
		"made": now.UTC().Format(time.RFC3339)}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info["module"] = bi.Main.Path + "@" + bi.Main.Version
	}
	version, _ := json.MarshalIndent(info, "", "  ")
	var metrics bytes.Buffer
	if mfs, err := e.gatherMetrics(); err == nil {
		enc := expfmt.NewEncoder(&metrics, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				break
			}
		}
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"version.json", version},
		{"status.json", []byte(Redact(string(status)))},
		{"manifest.json", manifest},
		{"logs.jsonl", logs.Bytes()},
		{"metrics.txt", metrics.Bytes()},
	} {
		if err := add(f.name, f.data); err != nil {
			return nil, fmt.Errorf("bundle %s: %w", f.name, err)
		}
	}
	if err := errors.Join(tw.Close(), gz.Close()); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if buf.Len() > maxBundleBytes {
		return nil, fmt.Errorf("bundle: %d bytes, more than its limit of %d", buf.Len(), maxBundleBytes)
	}
	return buf.Bytes(), nil
}

// runCommand runs one command of the hub.
func (e *Edge) runCommand(c uplink.Command) uplink.CommandResult {
	var args uplink.CommandArgs
	if len(c.Args) > 0 {
		if err := json.Unmarshal(c.Args, &args); err != nil {
			return uplink.CommandResult{Error: "args: " + err.Error()}
		}
	}
	var out any
	var err error
	switch c.Kind {
	case uplink.CommandStatus:
		st := e.Status()
		out = redactJSON(mustJSON(st))
	case uplink.CommandLogs:
		out = map[string]any{"records": e.logs.records()}
	case uplink.CommandRestartInput:
		if err = e.restartInput(args.Input); err == nil {
			out = map[string]any{"input": args.Input, "restarted": true}
		}
	case uplink.CommandPipelineTest:
		out, err = e.testPipeline(args.Spec)
	case uplink.CommandBundle:
		b, berr := e.bundle()
		if berr != nil {
			return uplink.CommandResult{Error: berr.Error()}
		}
		return uplink.CommandResult{Bundle: b, Output: mustJSON(map[string]int{"bytes": len(b)})}
	default:
		err = fmt.Errorf("unknown command kind %q: this edge runs %v", c.Kind, uplink.CommandKinds)
	}
	if err != nil {
		return uplink.CommandResult{Error: Redact(err.Error())}
	}
	return uplink.CommandResult{Output: mustJSON(out)}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return b
}

// commands long-polls the hub for commands and runs them one after
// another; a poll that says the manifest changed wakes the manifest
// loop. A hub that cannot be reached is asked again after a backoff.
func (e *Edge) commands(ctx context.Context) error {
	bo := backoff.New(time.Second, time.Minute)
	client := &uplink.Client{HTTP: e.pollHTTP, Signer: e.signer.Load}
	for ctx.Err() == nil {
		e.fwd.mu.Lock()
		client.URL = e.fwd.identity.Hub
		e.fwd.mu.Unlock()
		if e.signer.Load() == nil || client.URL == "" {
			// Not enrolled with a key yet: the manifest loop's first
			// round, or the forwarder, gets there.
			if !backoff.Sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		e.managed.mu.Lock()
		etag := e.managed.etag
		e.managed.mu.Unlock()
		if etag == "" {
			etag = `"none"` // no manifest fetched yet: the hub answers at once
		}
		res, err := client.PollCommands(ctx, e.cfg.CommandWait, etag)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Debug("cannot poll the hub for commands", "err", err)
			}
			if !bo.Wait(ctx) {
				return nil
			}
			continue
		}
		bo.Reset()
		if res.ManifestChanged {
			select {
			case e.manifestNow <- struct{}{}:
			default:
			}
		}
		for _, c := range res.Commands {
			e.log.Info("running a command of the hub", "command", c.ID, "kind", c.Kind)
			r := e.runCommand(c)
			if len(r.Output)+len(r.Bundle)*4/3 > uplink.MaxResultBytes-4096 {
				r = uplink.CommandResult{Error: "the result exceeds its limit"}
			}
			if err := client.PostResult(ctx, c.ID, r); err != nil && ctx.Err() == nil {
				e.log.Warn("cannot post a command's result", "command", c.ID, "err", err)
			}
		}
		if res.ManifestChanged && len(res.Commands) == 0 && !e.waitManifestFetched(ctx, etag) {
			// The manifest loop could not fetch it; until it has, the
			// hub would answer the same at once.
			if !bo.Wait(ctx) {
				return nil
			}
		}
	}
	return nil
}

// waitManifestFetched waits for the manifest loop's next fetch, at most
// a poll interval or 5 s (the loop may be watching a manifest's health:
// commands should not wait for that); it reports whether the edge's
// manifest is no longer etag's.
func (e *Edge) waitManifestFetched(ctx context.Context, etag string) bool {
	e.managed.mu.Lock()
	ch := e.managed.fetched
	e.managed.mu.Unlock()
	t := time.NewTimer(min(time.Duration(e.poll.Load()), 5*time.Second))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-ch:
	case <-t.C:
	}
	e.managed.mu.Lock()
	defer e.managed.mu.Unlock()
	return e.managed.etag != etag
}
