package files

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// maxLine bounds one line of a jsonl file.
const maxLine = 1 << 20

// cell is one field of a row: text from a CSV file, a decoded JSON value
// (json.Number, bool, string or nil) from a JSON one.
type cell struct {
	col  string
	text string
	json any
	csv  bool
}

// parser reads the rows of one file and turns them into points, at most
// batch points at a time.
type parser struct {
	cfg   *Config
	now   int64 // unix ns: the time of rows without a time column
	next  func() ([]cell, error)
	row   int // rows read, for error messages
	pend  []uns.Point
	eof   bool              // next returned io.EOF: it is not called again
	names map[string]string // column → series, for wide files
}

func newParser(cfg *Config, format string, r io.Reader, now int64) (*parser, error) {
	p := &parser{cfg: cfg, now: now, names: map[string]string{}}
	switch format {
	case FormatCSV:
		cr := csv.NewReader(r)
		cr.ReuseRecord = true
		cr.Comma = []rune(cfg.Delimiter)[0]
		cr.FieldsPerRecord = 0 // every row as long as the header
		header, err := cr.Read()
		if err == io.EOF {
			return nil, errors.New("empty CSV file: want a header row")
		}
		if err != nil {
			return nil, fmt.Errorf("CSV header: %w", err)
		}
		header = append([]string(nil), header...)
		if len(header) > 0 {
			header[0] = strings.TrimPrefix(header[0], "\ufeff") // a byte order mark from spreadsheet programs
		}
		row := make([]cell, len(header))
		p.next = func() ([]cell, error) {
			rec, err := cr.Read()
			if err != nil {
				return nil, err
			}
			for i, v := range rec {
				row[i] = cell{col: strings.TrimSpace(header[i]), text: v, csv: true}
			}
			return row, nil
		}
	case FormatJSON:
		dec := json.NewDecoder(r)
		dec.UseNumber()
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return nil, errors.New("JSON file: want an array of row objects")
		}
		p.next = func() ([]cell, error) {
			if !dec.More() {
				if _, err := dec.Token(); err != nil {
					return nil, fmt.Errorf("JSON: %w", err)
				}
				if _, err := dec.Token(); err != io.EOF {
					return nil, errors.New("JSON: data after the array")
				}
				return nil, io.EOF
			}
			return objectRow(dec)
		}
	case FormatJSONL:
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), maxLine)
		p.next = func() ([]cell, error) {
			for sc.Scan() {
				line := bytes.TrimSpace(sc.Bytes())
				if len(line) == 0 {
					continue
				}
				dec := json.NewDecoder(bytes.NewReader(line))
				dec.UseNumber()
				row, err := objectRow(dec)
				if err == nil && dec.More() {
					err = errors.New("data after the object")
				}
				return row, err
			}
			if err := sc.Err(); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
	default:
		return nil, fmt.Errorf("format %q", format)
	}
	return p, nil
}

// objectRow decodes one JSON object of flat values as a row.
func objectRow(dec *json.Decoder) ([]cell, error) {
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("want a JSON object: %w", err)
	}
	row := make([]cell, 0, len(obj))
	for k, v := range obj {
		row = append(row, cell{col: k, json: v})
	}
	// A fixed order, so that a file always gives the same points.
	sortCells(row)
	return row, nil
}

func sortCells(row []cell) {
	for i := 1; i < len(row); i++ {
		for j := i; j > 0 && row[j].col < row[j-1].col; j-- {
			row[j], row[j-1] = row[j-1], row[j]
		}
	}
}

// batch returns the next points, at most cfg.BatchPoints of them (a row
// is never split across two batches unless it alone holds more); nil and
// io.EOF at the end of the file.
func (p *parser) batch() ([]uns.Point, error) {
	var out []uns.Point
	if len(p.pend) > 0 {
		out, p.pend = p.pend, nil
	}
	for len(out) < p.cfg.BatchPoints {
		if p.eof {
			return out, nilIfAny(out)
		}
		row, err := p.next()
		if err == io.EOF {
			p.eof = true
			if len(out) == 0 {
				return nil, io.EOF
			}
			return out, nil
		}
		p.row++
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", p.row, err)
		}
		n0 := len(out)
		if out, err = p.points(out, row); err != nil {
			return nil, fmt.Errorf("row %d: %w", p.row, err)
		}
		if len(out) > p.cfg.BatchPoints && n0 > 0 {
			p.pend = append([]uns.Point(nil), out[n0:]...)
			return out[:n0], nil
		}
	}
	return out, nil
}

// nilIfAny is io.EOF for an empty batch, nil otherwise.
func nilIfAny(out []uns.Point) error {
	if len(out) == 0 {
		return io.EOF
	}
	return nil
}

// points appends the points of one row.
func (p *parser) points(dst []uns.Point, row []cell) ([]uns.Point, error) {
	ts := p.now
	if tc := p.cfg.TimeColumn; tc != "" {
		c, ok := find(row, tc)
		if !ok {
			return dst, fmt.Errorf("no time column %q", tc)
		}
		var err error
		if ts, err = p.time(c); err != nil {
			return dst, fmt.Errorf("column %q: %w", tc, err)
		}
	}
	if sc := p.cfg.SeriesColumn; sc != "" {
		s, ok := find(row, sc)
		if !ok {
			return dst, fmt.Errorf("no series column %q", sc)
		}
		series := s.text
		if !s.csv {
			str, isStr := s.json.(string)
			if !isStr {
				return dst, fmt.Errorf("column %q: want a string", sc)
			}
			series = str
		}
		if err := uns.ValidatePath(series); err != nil {
			return dst, fmt.Errorf("column %q: %w", sc, err)
		}
		vc, ok := find(row, p.cfg.ValueColumn)
		if !ok {
			return dst, fmt.Errorf("no value column %q", p.cfg.ValueColumn)
		}
		v, ok, err := value(vc)
		if err != nil || !ok {
			if err == nil {
				err = errors.New("empty")
			}
			return dst, fmt.Errorf("column %q: %w", p.cfg.ValueColumn, err)
		}
		return append(dst, uns.Point{Series: series, TS: ts, Value: v}), nil
	}
	for _, c := range row {
		if c.col == p.cfg.TimeColumn {
			continue
		}
		v, ok, err := value(c)
		if err != nil {
			return dst, fmt.Errorf("column %q: %w", c.col, err)
		}
		if !ok {
			continue // an empty cell: no reading
		}
		series, err := p.series(c.col)
		if err != nil {
			return dst, err
		}
		dst = append(dst, uns.Point{Series: series, TS: ts, Value: v})
	}
	return dst, nil
}

// series returns the series of a column of a wide file: the prefix and the
// column's name made a path segment.
func (p *parser) series(col string) (string, error) {
	if s, ok := p.names[col]; ok {
		return s, nil
	}
	s := p.cfg.Series + "/" + Segment(col)
	if err := uns.ValidatePath(s); err != nil {
		return "", fmt.Errorf("column %q: %w", col, err)
	}
	if len(p.names) < 10000 {
		p.names[col] = s
	}
	return s, nil
}

// Segment makes a column name a UNS path segment: characters other than
// letters, digits, '_', '.' and '-' become '_', as does a leading '.', and
// it is cut to uns.MaxSegmentLen bytes ("Temp (°C)" → "Temp__C_").
func Segment(col string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(col) {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if strings.HasPrefix(s, ".") {
		s = "_" + s[1:]
	}
	if len(s) > uns.MaxSegmentLen {
		s = s[:uns.MaxSegmentLen]
	}
	return s
}

func find(row []cell, col string) (cell, bool) {
	for _, c := range row {
		if c.col == col {
			return c, true
		}
	}
	return cell{}, false
}

// value is a cell's value; false for an empty cell (or JSON null). CSV
// text becomes a bool (true, false), an integer, a finite float or else a
// string.
func value(c cell) (uns.Value, bool, error) {
	if c.csv {
		s := strings.TrimSpace(c.text)
		switch {
		case s == "":
			return uns.Value{}, false, nil
		case s == "true" || s == "TRUE" || s == "True":
			return uns.Bool(true), true, nil
		case s == "false" || s == "FALSE" || s == "False":
			return uns.Bool(false), true, nil
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return uns.Int(i), true, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return uns.Float(f), true, nil
		}
		return uns.String(c.text), true, nil
	}
	switch v := c.json.(type) {
	case nil:
		return uns.Value{}, false, nil
	case bool:
		return uns.Bool(v), true, nil
	case string:
		return uns.String(v), true, nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return uns.Int(i), true, nil
		}
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) {
			return uns.Value{}, false, fmt.Errorf("number %s out of range", v)
		}
		return uns.Float(f), true, nil
	}
	return uns.Value{}, false, errors.New("want a number, bool or string, not an object or array")
}

// maxTS bounds a row's time (2200-01-01): a later one is a unit mistake.
var maxTS = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// time is the unix ns of a time cell.
func (p *parser) time(c cell) (int64, error) {
	text := c.text
	if !c.csv {
		switch v := c.json.(type) {
		case string:
			text = v
		case json.Number:
			text = v.String()
		default:
			return 0, errors.New("want a time")
		}
	}
	text = strings.TrimSpace(text)
	var ts int64
	switch p.cfg.TimeFormat {
	case TimeRFC3339:
		t, err := time.Parse(time.RFC3339Nano, text)
		if err != nil {
			return 0, fmt.Errorf("want an RFC 3339 time (2026-03-01T12:00:00Z): %q", text)
		}
		ts = t.UnixNano()
	case TimeUnixS, TimeUnixMS:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return 0, fmt.Errorf("want a unix time in %s: %q", strings.TrimPrefix(p.cfg.TimeFormat, "unix_"), text)
		}
		unit := 1e9
		if p.cfg.TimeFormat == TimeUnixMS {
			unit = 1e6
		}
		if f*unit >= float64(maxTS) {
			return 0, fmt.Errorf("time %s out of range: seconds and milliseconds mixed up?", text)
		}
		ts = int64(math.Round(f * unit))
	}
	if ts <= 0 || ts >= maxTS {
		return 0, fmt.Errorf("time %q out of range (1970..2200)", text)
	}
	return ts, nil
}
