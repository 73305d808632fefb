package output

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/molen-io/molen/internal/uns"
)

func init() {
	Register(Spec{
		Name:  "remote_write",
		Doc:   "send to Prometheus remote write (Prometheus, Mimir, VictoriaMetrics, Thanos, Cortex)",
		New:   func() Config { return &RemoteWriteConfig{Metric: "molen_uns"} },
		Build: func(c Config, _ *slog.Logger) (Sink, error) { return newRemoteWrite(c.(*RemoteWriteConfig)), nil },
	})
}

// RemoteWriteConfig is the remote_write output: every numeric point is a
// sample of the series {__name__=<metric>, path=<UNS path>}; booleans are
// 0 and 1; strings are skipped (Prometheus holds numbers only).
type RemoteWriteConfig struct {
	HTTP   `yaml:",inline"`
	Buffer `yaml:",inline"`
	// Metric is the metric name of every series. Default "molen_uns".
	Metric string `yaml:"metric"`
	// Labels are added to every series (site="plant1").
	Labels map[string]string `yaml:"labels"`
}

// Validate checks c; errors name the key.
func (c *RemoteWriteConfig) Validate() error {
	errs := c.HTTP.check()
	if !validLabel(c.Metric, true) {
		errs = append(errs, fmt.Errorf("metric: %q: want [a-zA-Z_:][a-zA-Z0-9_:]*", c.Metric))
	}
	for k := range c.Labels {
		if !validLabel(k, false) || k == "path" || strings.HasPrefix(k, "__") {
			errs = append(errs, fmt.Errorf("labels.%s: want [a-zA-Z_][a-zA-Z0-9_]*, not path nor starting with __", k))
		}
	}
	return joinChecks(&c.Buffer, errs...)
}

func validLabel(s string, metric bool) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' || metric && c == ':'
		if !ok {
			return false
		}
	}
	return true
}

type remoteWriteSink struct {
	cfg    *RemoteWriteConfig
	p      *poster
	labels []label // the config's, sorted, without path and __name__
}

type label struct{ name, value string }

func newRemoteWrite(c *RemoteWriteConfig) *remoteWriteSink {
	h := http.Header{
		"Content-Type":                      {"application/x-protobuf"},
		"Content-Encoding":                  {"snappy"},
		"X-Prometheus-Remote-Write-Version": {"0.1.0"},
		"User-Agent":                        {"molen-edge"},
	}
	s := &remoteWriteSink{cfg: c, p: newPoster(&c.HTTP, c.URL, h)}
	for k, v := range c.Labels {
		s.labels = append(s.labels, label{k, v})
	}
	return s
}

func (s *remoteWriteSink) Target() string { return s.p.target }

func (s *remoteWriteSink) Send(ctx context.Context, pts []uns.Point) error {
	req := EncodeWriteRequest(nil, s.cfg.Metric, s.labels, pts)
	if req == nil {
		return nil // strings only
	}
	if err := s.p.post(ctx, snappy.Encode(nil, req)); err != nil {
		return fmt.Errorf("remote write %d points: %w", len(pts), err)
	}
	return nil
}

// EncodeWriteRequest appends a Prometheus remote-write WriteRequest
// (prometheus/prompb, remote write 1.0) of the numeric points of pts: one
// TimeSeries per UNS path with labels sorted by name and samples in time
// order. It returns nil if no point is numeric.
func EncodeWriteRequest(b []byte, metric string, extra []label, pts []uns.Point) []byte {
	idx := make([]int, 0, len(pts))
	for i := range pts {
		if pts[i].Value.Kind() != uns.KindString {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return cmp.Or(strings.Compare(pts[a].Series, pts[b].Series), cmp.Compare(pts[a].TS, pts[b].TS))
	})
	lbls := append([]label{{"__name__", metric}, {"path", ""}}, extra...)
	slices.SortFunc(lbls, func(a, b label) int { return strings.Compare(a.name, b.name) })
	var ts []byte
	for start := 0; start < len(idx); {
		series := pts[idx[start]].Series
		end := start
		for end < len(idx) && pts[idx[end]].Series == series {
			end++
		}
		ts = ts[:0]
		for _, l := range lbls {
			v := l.value
			if l.name == "path" {
				v = series
			}
			var lb []byte
			lb = protowire.AppendTag(lb, 1, protowire.BytesType)
			lb = protowire.AppendString(lb, l.name)
			lb = protowire.AppendTag(lb, 2, protowire.BytesType)
			lb = protowire.AppendString(lb, v)
			ts = protowire.AppendTag(ts, 1, protowire.BytesType)
			ts = protowire.AppendBytes(ts, lb)
		}
		for _, i := range idx[start:end] {
			p := &pts[i]
			f, _ := p.Value.AsFloat()
			var sb []byte
			sb = protowire.AppendTag(sb, 1, protowire.Fixed64Type)
			sb = protowire.AppendFixed64(sb, math.Float64bits(f))
			sb = protowire.AppendTag(sb, 2, protowire.VarintType)
			sb = protowire.AppendVarint(sb, uint64(p.TS/1e6))
			ts = protowire.AppendTag(ts, 2, protowire.BytesType)
			ts = protowire.AppendBytes(ts, sb)
		}
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, ts)
		start = end
	}
	return b
}
