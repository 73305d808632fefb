package httpin

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Config is one HTTP listener for points.
type Config struct {
	// Listen is the address to listen on, host:port (":8089": every
	// interface).
	Listen string `yaml:"listen"`
	// Path is where points are posted: POST <path>/<series> with one
	// payload, POST <path> with lines of "<series> <payload>".
	Path string `yaml:"path"`
	// Text accepts plain-text payloads (running, ON) as string values, as
	// the MQTT listener's text option does.
	Text bool `yaml:"text"`

	// Token, if set, is the bearer token a client must send
	// (Authorization: Bearer <token>). Username and Password, if set, are
	// the basic-auth credentials it must send instead or as well; either
	// one that matches is enough. Never logged.
	Token    string `yaml:"token"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`

	// CertFile and KeyFile, if set, make the listener HTTPS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`

	// MaxBody bounds a request's body in bytes; a larger one is answered
	// 413 and counted as oversized.
	MaxBody int64 `yaml:"max_body"`
	// ReadTimeout bounds reading one request.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// BackoffMin and BackoffMax bound the waits between attempts to
	// listen when the address is taken.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
}

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{
		Listen:      ":8089",
		Path:        "/points",
		MaxBody:     1 << 20,
		ReadTimeout: 30 * time.Second,
		BackoffMin:  time.Second,
		BackoffMax:  time.Minute,
	}
}

// Validate checks c; its errors name the field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q: want host:port, e.g. :8089", c.Listen)
	}
	if !strings.HasPrefix(c.Path, "/") || strings.HasSuffix(c.Path, "/") && c.Path != "/" || strings.ContainsAny(c.Path, " {}") {
		bad("path", "%q: want an absolute path such as /points", c.Path)
	}
	if (c.Username == "") != (c.Password == "") {
		bad("password", "set username and password together")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		bad("key_file", "set cert_file and key_file together")
	}
	if c.MaxBody < 1 || c.MaxBody > 256<<20 {
		bad("max_body", "must be 1..268435456")
	}
	if c.ReadTimeout <= 0 {
		bad("read_timeout", "must be positive")
	}
	if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		bad("backoff_min", "want 0 < backoff_min <= backoff_max")
	}
	return errors.Join(errs...)
}
