package files

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// The formats of a file.
const (
	FormatCSV   = "csv"
	FormatJSON  = "json"  // an array of row objects
	FormatJSONL = "jsonl" // one row object a line
)

// The time formats of the time column.
const (
	TimeRFC3339 = "rfc3339"
	TimeUnixS   = "unix_s"
	TimeUnixMS  = "unix_ms"
)

// What happens to a file once its points are written.
const (
	DoneMove = "move" // into the done/ subfolder
	DoneMark = "mark" // renamed with done_suffix, in place
)

// Config is one watched folder and how its files map onto UNS series.
type Config struct {
	// Dir is the folder watched. Files in its subfolders are not read.
	Dir string `yaml:"dir"`
	// Pattern selects the files by name (a glob: "*.csv", "line3-*").
	Pattern string `yaml:"pattern"`
	// Format is csv, json or jsonl; empty: from the file's extension
	// (.csv, .json, .jsonl or .ndjson).
	Format string `yaml:"format"`
	// Delimiter separates the fields of a CSV file: "," or ";" (as
	// spreadsheet programs with a Dutch or German locale write), or a tab.
	Delimiter string `yaml:"delimiter"`

	// Series is the prefix of the series of a wide file: each column (or
	// key) other than the time column becomes series/<column>.
	Series string `yaml:"series"`
	// SeriesColumn names the column that holds a row's series (a long
	// file); ValueColumn the column of its value. Set Series or
	// SeriesColumn, not both. With Series as well as SeriesColumn unset
	// the input refuses the config.
	SeriesColumn string `yaml:"series_column"`
	ValueColumn  string `yaml:"value_column"`
	// TimeColumn names the column holding a row's time; empty: the rows
	// take the time the file is read.
	TimeColumn string `yaml:"time_column"`
	// TimeFormat is rfc3339, unix_s or unix_ms.
	TimeFormat string `yaml:"time_format"`

	// Done is move (to done/) or mark (rename with DoneSuffix).
	Done       string `yaml:"done"`
	DoneSuffix string `yaml:"done_suffix"`

	// Settle is how long a file's size and modification time must stay
	// unchanged before it is read; 0 reads a file as soon as it is seen
	// (for writers that rename finished files into place).
	Settle time.Duration `yaml:"settle"`
	// PollInterval is how often the folder is listed.
	PollInterval time.Duration `yaml:"poll_interval"`
	// BatchPoints bounds the points of one write to the edge's log.
	BatchPoints int `yaml:"batch_points"`
	// MaxFileSize bounds a file; a larger one is moved to failed/.
	MaxFileSize int64 `yaml:"max_file_size"`
	// BackoffMin and BackoffMax bound the waits between attempts to
	// write points the edge's log refused, and to list a folder that is
	// gone.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
}

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{
		Pattern:      "*",
		Delimiter:    ",",
		ValueColumn:  "value",
		TimeFormat:   TimeRFC3339,
		Done:         DoneMove,
		DoneSuffix:   ".done",
		Settle:       2 * time.Second,
		PollInterval: time.Second,
		BatchPoints:  5000,
		MaxFileSize:  256 << 20,
		BackoffMin:   100 * time.Millisecond,
		BackoffMax:   30 * time.Second,
	}
}

// Validate checks c; its errors name the field, e.g. "dir: required".
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Dir == "" {
		bad("dir", "required")
	}
	if c.Pattern == "" {
		bad("pattern", "required (\"*\" for every file)")
	} else if _, err := filepath.Match(c.Pattern, "x"); err != nil {
		bad("pattern", "%q: %v", c.Pattern, err)
	} else if strings.Contains(c.Pattern, "/") {
		bad("pattern", "%q: a name pattern, without /", c.Pattern)
	}
	switch c.Format {
	case "", FormatCSV, FormatJSON, FormatJSONL:
	default:
		bad("format", "%q: want csv, json or jsonl (empty: from the extension)", c.Format)
	}
	if r := []rune(c.Delimiter); len(r) != 1 || r[0] == '"' || r[0] == '\n' || r[0] == '\r' {
		bad("delimiter", "%q: want one character such as , or ;", c.Delimiter)
	}
	switch {
	case c.Series != "" && c.SeriesColumn != "":
		bad("series", "set series or series_column, not both")
	case c.Series == "" && c.SeriesColumn == "":
		bad("series", "required: the prefix of the columns' series (or series_column, the column holding each row's series)")
	case c.Series != "":
		if err := uns.ValidatePath(c.Series + "/x"); err != nil {
			bad("series", "%v", err)
		}
	case c.ValueColumn == "":
		bad("value_column", "required with series_column")
	}
	switch c.TimeFormat {
	case TimeRFC3339, TimeUnixS, TimeUnixMS:
	default:
		bad("time_format", "%q: want rfc3339, unix_s or unix_ms", c.TimeFormat)
	}
	switch c.Done {
	case DoneMove:
	case DoneMark:
		if c.DoneSuffix == "" || strings.ContainsAny(c.DoneSuffix, `/\`) {
			bad("done_suffix", "%q: want a suffix such as .done", c.DoneSuffix)
		}
	default:
		bad("done", "%q: want move or mark", c.Done)
	}
	if c.Settle < 0 {
		bad("settle", "must not be negative")
	}
	if c.PollInterval <= 0 {
		bad("poll_interval", "must be positive")
	}
	if c.BatchPoints < 1 || c.BatchPoints > 1_000_000 {
		bad("batch_points", "must be 1..1000000")
	}
	if c.MaxFileSize < 1 {
		bad("max_file_size", "must be positive")
	}
	if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		bad("backoff_min", "want 0 < backoff_min <= backoff_max")
	}
	return errors.Join(errs...)
}

// format is the format of a file named name.
func (c *Config) format(name string) string {
	if c.Format != "" {
		return c.Format
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return FormatJSON
	case ".jsonl", ".ndjson":
		return FormatJSONL
	}
	return FormatCSV
}
