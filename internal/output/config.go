package output

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/molen-io/molen/internal/yamlspec"
)

// Defaults of Buffer.
const (
	DefaultMaxBytes = 64 << 20
	minMaxBytes     = 1 << 20
)

// Buffer is the part of every output's config that names it and bounds its
// buffer. Outputs embed it inline: its keys sit beside their own.
type Buffer struct {
	// Name identifies the output in the status, the metrics and its buffer
	// directory (outputs/<name> in the edge's data directory). Default: the
	// kind, and the kind with its place when a kind appears twice.
	Name string `yaml:"name"`
	// MaxBytes bounds the output's buffer on disk; when it is full the
	// oldest data is dropped and counted. Default 64 MiB, at least 1 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxAge drops data older than this that could not be sent (counted);
	// 0 means no limit.
	MaxAge time.Duration `yaml:"max_age"`
}

func (b *Buffer) buffer() *Buffer { return b }

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// check reports the buffer's errors, by key.
func (b *Buffer) check() []error {
	var errs []error
	if b.Name != "" && !nameRE.MatchString(b.Name) {
		errs = append(errs, fmt.Errorf("name: %q: want lower-case letters, digits, - and _ (at most 63)", b.Name))
	}
	if b.MaxBytes != 0 && b.MaxBytes < minMaxBytes {
		errs = append(errs, fmt.Errorf("max_bytes: must be at least %d (1 MiB), got %d", minMaxBytes, b.MaxBytes))
	}
	if b.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("max_age: must not be negative, got %s", b.MaxAge))
	}
	return errs
}

// Config is an output kind's configuration: a pointer to a struct that
// embeds Buffer inline and checks itself.
type Config interface {
	Validate() error
	buffer() *Buffer
}

// Spec registers an output kind.
type Spec struct {
	Name  string        // the key in the outputs file, e.g. "mqtt"
	Doc   string        // one line for --help and error messages
	New   func() Config // a pointer to a config holding the defaults
	Build func(cfg Config, log *slog.Logger) (Sink, error)
}

var registry = yamlspec.NewRegistry[Spec]("output")

// Register adds an output kind; it panics on a duplicate or incomplete
// spec, as registration happens in init.
func Register(s Spec) { registry.Register(s.Name, s, s.New != nil && s.Build != nil) }

// Lookup returns the spec of an output kind.
func Lookup(name string) (Spec, bool) { return registry.Lookup(name) }

// Kinds lists the registered output kinds by name.
func Kinds() []string { return registry.Names() }

// Configured is one output of an outputs file.
type Configured struct {
	Kind   string
	Name   string // Buffer.Name or its default
	Path   string // "outputs[2]"
	Config Config
}

// Load reads an outputs file:
//
//	outputs:
//	  - mqtt: {url: tcp://broker:1883, topic_prefix: uns/}
//	  - influx: {url: http://influx:8086, org: plant, bucket: molen, token: …}
//
// Unknown kinds, unknown fields and bad values are errors naming their
// place ("outputs[1].influx.url: required"), all at once.
func Load(file string) ([]Configured, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("outputs file: %w", err)
	}
	outs, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return outs, nil
}

// Parse is Load on the file's content.
func Parse(data []byte) ([]Configured, error) {
	var d yamlspec.Decoder
	entries := d.List(data, "outputs", "output kind", "{mqtt: {url: tcp://broker:1883}}",
		yamlspec.Configs(registry, func(s Spec) Config { return s.New() }), Kinds())
	out := make([]Configured, len(entries))
	for i, e := range entries {
		out[i] = Configured{Kind: e.Kind, Path: e.Path, Config: e.Config.(Config)}
	}
	// Names: explicit ones must be unique; a kind that appears more than
	// once without one is named by its place.
	kinds := map[string]int{}
	for _, c := range out {
		kinds[c.Kind]++
	}
	seen := map[string]string{}
	for i := range out {
		c := &out[i]
		c.Name = c.Config.buffer().Name
		if c.Name == "" {
			c.Name = c.Kind
			if kinds[c.Kind] > 1 {
				c.Name = c.Kind + "-" + strconv.Itoa(indexOf(c.Path))
			}
		}
		if prev, dup := seen[c.Name]; dup {
			d.Fail(c.Path+"."+c.Kind+".name", "%q is also the name of %s", c.Name, prev)
		}
		seen[c.Name] = c.Path
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func indexOf(path string) int {
	n, _ := strconv.Atoi(path[len("outputs[") : len(path)-1])
	return n
}

// Build makes the sink of a configured output.
func (c Configured) Build(log *slog.Logger) (Sink, error) {
	spec, ok := Lookup(c.Kind)
	if !ok {
		return nil, fmt.Errorf("%s: unknown output kind %q", c.Path, c.Kind)
	}
	s, err := spec.Build(c.Config, log)
	if err != nil {
		return nil, fmt.Errorf("%s.%s: %w", c.Path, c.Kind, err)
	}
	return s, nil
}

// joinChecks joins a config's own errors with its buffer's.
func joinChecks(b *Buffer, errs ...error) error {
	return errors.Join(append(b.check(), errs...)...)
}
