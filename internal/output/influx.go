package output

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/molen-io/molen/internal/uns"
)

func init() {
	Register(Spec{
		Name:  "influx",
		Doc:   "write to InfluxDB (1.x, 2.x, 3.x) in line protocol",
		New:   func() Config { return &InfluxConfig{Measurement: "uns"} },
		Build: func(c Config, _ *slog.Logger) (Sink, error) { return newInflux(c.(*InfluxConfig)), nil },
	})
}

// InfluxConfig is the influx output: each point is one line,
// <measurement>,path=<UNS path>,quality=<q> value=<v> <unix ns>.
type InfluxConfig struct {
	HTTP   `yaml:",inline"`
	Buffer `yaml:",inline"`
	// Org and Bucket select the InfluxDB 2.x (and 3.x) write API
	// /api/v2/write; DB selects the 1.x API /write. One of Bucket and DB.
	Org    string `yaml:"org"`
	Bucket string `yaml:"bucket"`
	DB     string `yaml:"db"`
	// Token is sent as "Authorization: Token <token>". Never logged.
	Token string `yaml:"token"`
	// Measurement names the measurement of every line. Default "uns".
	Measurement string `yaml:"measurement"`
}

// Validate checks c; errors name the key.
func (c *InfluxConfig) Validate() error {
	errs := c.HTTP.check()
	switch {
	case c.Bucket == "" && c.DB == "":
		errs = append(errs, errors.New("bucket: required (InfluxDB 2.x and 3.x; or db for 1.x)"))
	case c.Bucket != "" && c.DB != "":
		errs = append(errs, errors.New("db: set bucket (2.x, 3.x) or db (1.x), not both"))
	}
	if c.Measurement == "" {
		errs = append(errs, errors.New("measurement: must not be empty"))
	}
	return joinChecks(&c.Buffer, errs...)
}

type influxSink struct {
	cfg *InfluxConfig
	p   *poster
}

func newInflux(c *InfluxConfig) *influxSink {
	q := url.Values{"precision": {"ns"}}
	path := "/write"
	if c.Bucket != "" {
		path = "/api/v2/write"
		q.Set("bucket", c.Bucket)
		if c.Org != "" {
			q.Set("org", c.Org)
		}
	} else {
		q.Set("db", c.DB)
	}
	h := http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
	if c.Token != "" {
		h.Set("Authorization", "Token "+c.Token)
	}
	return &influxSink{cfg: c, p: newPoster(&c.HTTP, strings.TrimSuffix(c.URL, "/")+path+"?"+q.Encode(), h)}
}

func (s *influxSink) Target() string { return s.p.target }

func (s *influxSink) Send(ctx context.Context, pts []uns.Point) error {
	body := make([]byte, 0, len(pts)*64)
	for i := range pts {
		body = AppendLine(body, s.cfg.Measurement, &pts[i])
	}
	if err := s.p.post(ctx, body); err != nil {
		return fmt.Errorf("write %d points: %w", len(pts), err)
	}
	return nil
}

// AppendLine appends p as one line of InfluxDB line protocol. A NaN or
// infinite float, which line protocol cannot hold, goes as a string field.
func AppendLine(b []byte, measurement string, p *uns.Point) []byte {
	b = appendEscaped(b, measurement, ", ")
	b = append(b, ",path="...)
	b = appendEscaped(b, p.Series, ", =")
	b = append(b, ",quality="...)
	b = append(b, p.Quality.String()...)
	b = append(b, " value="...)
	switch p.Value.Kind() {
	case uns.KindFloat:
		f := p.Value.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			b = appendFieldString(b, strconv.FormatFloat(f, 'g', -1, 64))
		} else {
			b = strconv.AppendFloat(b, f, 'g', -1, 64)
		}
	case uns.KindInt:
		b = strconv.AppendInt(b, p.Value.Int(), 10)
		b = append(b, 'i')
	case uns.KindBool:
		b = strconv.AppendBool(b, p.Value.Bool())
	default:
		b = appendFieldString(b, p.Value.Str())
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, p.TS, 10)
	return append(b, '\n')
}

// appendEscaped appends s with a backslash before each of special, and
// newlines (which end a line) as spaces escaped.
func appendEscaped(b []byte, s, special string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n' || c == '\r':
			b = append(b, '\\', ' ')
			continue
		case c == '\\' || strings.IndexByte(special, c) >= 0:
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return b
}

func appendFieldString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}
