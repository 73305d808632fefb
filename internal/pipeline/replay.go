package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// The JSON lines format of recorded points, read by Replay and written by
// it (so an output can be replayed again), one point per line:
//
//	{"series":"acme/hall1/line1/press/temp","ts":1700000000000,"value":21.5,"q":"good"}
//
// series is a UNS path; ts is unix milliseconds (a fraction gives sub-ms
// precision); value is a JSON number, true/false or a string (a number
// without fraction or exponent is an integer, so write 5.0 for a float);
// q is good (the default), uncertain or bad. Blank lines and lines whose
// first non-blank character is '#' are ignored. Replay writes results in the
// same format, adding "to":"local" to the points of local pipelines, and
// one line per event:
//
//	{"event":"downtime","asset":"acme/hall1/line1/press","start":1700000000000,"end":1700000060000,"attrs":{"reason":"jam"}}
//
// end is absent while an event is still open.

// replayBatch is how many points Replay hands to Process at a time.
const replayBatch = 512

// replayTick is the event-time period at which Replay ticks, as the edge
// ticks once a second of wall time.
const replayTick = int64(time.Second)

// Replay runs the recorded points read from in (JSON lines, see above)
// through the pipelines of def and writes the results and events to out,
// deterministically: time is the points' event time. Before the first
// point of each new second of event time, Replay ticks at that second
// (once, however long the gap before it); at the end of input it calls
// Finish, so every window closes. A malformed line stops the replay with
// an error naming its line number.
func Replay(def *Definition, in io.Reader, out io.Writer) (Stats, error) {
	var local []uns.Point
	r, err := NewRunner(def, Options{Local: func(pts []uns.Point) { local = append(local, pts...) }})
	if err != nil {
		return Stats{}, err
	}
	w := bufio.NewWriterSize(out, 64<<10)
	var (
		batch    []uns.Point
		events   []Event
		line     []byte
		nextTick int64 = math.MinInt64
		werr     error
	)
	flush := func(pts []uns.Point) {
		for _, p := range pts {
			line = AppendPointJSON(line[:0], p, false)
			w.Write(line)
		}
		for _, p := range local {
			line = AppendPointJSON(line[:0], p, true)
			w.Write(line)
		}
		local = local[:0]
		events = r.DrainEvents(events[:0])
		for _, e := range events {
			line = AppendEventJSON(line[:0], e)
			w.Write(line)
		}
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var buf []uns.Point
	for n := 1; sc.Scan(); n++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		p, err := ParsePointJSON(text)
		if err != nil {
			w.Flush() // what came before the bad line is still output
			return r.Stats(), fmt.Errorf("input line %d: %w", n, err)
		}
		if p.TS >= nextTick {
			if len(batch) > 0 {
				flush(r.Process(batch))
				batch = batch[:0]
			}
			sec := p.TS - p.TS%replayTick
			if nextTick != math.MinInt64 {
				buf = r.Tick(sec, buf[:0])
				flush(buf)
			}
			nextTick = sec + replayTick
		}
		batch = append(batch, p)
		if len(batch) == replayBatch {
			flush(r.Process(batch))
			batch = batch[:0]
		}
	}
	if err := sc.Err(); err != nil {
		w.Flush()
		return r.Stats(), fmt.Errorf("read input: %w", err)
	}
	if len(batch) > 0 {
		flush(r.Process(batch))
	}
	flush(r.Finish(buf[:0]))
	if werr = w.Flush(); werr != nil {
		return r.Stats(), fmt.Errorf("write output: %w", werr)
	}
	return r.Stats(), nil
}

type jsonPoint struct {
	Series *string          `json:"series"`
	TS     *json.RawMessage `json:"ts"`
	Value  *json.RawMessage `json:"value"`
	Q      *string          `json:"q"`
	To     *string          `json:"to"`
}

// ParsePointJSON parses one line of the JSON lines point format.
func ParsePointJSON(line []byte) (uns.Point, error) {
	if p, ok := parsePointFast(line); ok {
		return p, nil
	}
	return parsePointSlow(line)
}

// parsePointFast parses the common shape of a point line, a flat object of
// series, ts, value and q with plain strings (no escapes) and numbers, about
// ten times faster than encoding/json. It gives up (ok false) on anything
// else, and the slow path decides, with its error messages.
func parsePointFast(b []byte) (p uns.Point, ok bool) {
	var hasSeries, hasTS, hasValue bool // a repeated key: the last wins, as in encoding/json
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return p, false
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return p, false
		}
		key, j, ok := plainString(b, i)
		if !ok {
			return p, false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return p, false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return p, false
		}
		var raw []byte
		if b[i] == '"' {
			_, j, ok = plainString(b, i)
			if !ok {
				return p, false
			}
			raw, i = b[i:j], j
		} else {
			j = i
			for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ' ' && b[j] != '\t' {
				j++
			}
			raw, i = b[i:j], j
		}
		if len(raw) == 0 {
			return p, false
		}
		switch string(key) {
		case "series":
			if raw[0] != '"' {
				return p, false
			}
			p.Series, hasSeries = string(raw[1:len(raw)-1]), true
		case "ts":
			if !isJSONNumber(raw) {
				return p, false
			}
			ts, err := parseMillis(string(raw))
			if err != nil {
				return p, false
			}
			p.TS, hasTS = ts, true
		case "value":
			if raw[0] != '"' && raw[0] != 't' && raw[0] != 'f' && !isJSONNumber(raw) {
				return p, false
			}
			v, err := parseValue(raw)
			if err != nil {
				return p, false
			}
			p.Value, hasValue = v, true
		case "q":
			if raw[0] != '"' {
				return p, false
			}
			q, err := uns.ParseQuality(string(raw[1 : len(raw)-1]))
			if err != nil {
				return p, false
			}
			p.Quality = q
		default:
			return p, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return p, false
		}
		if b[i] == '}' {
			if skipSpace(b, i+1) != len(b) || !hasSeries || !hasTS || !hasValue || uns.ValidatePath(p.Series) != nil {
				return p, false
			}
			return p, true
		}
		if b[i] != ',' {
			return p, false
		}
		i++
	}
}

// isJSONNumber reports whether b is a number by JSON's grammar: no leading
// zeros, '+', or bare '.'.
func isJSONNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	start := i
	if n := digits(); n == 0 || n > 1 && b[start] == '0' {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// plainString reads the JSON string starting at b[i] == '"' if it is plain ASCII without
// escapes; it returns its contents and the index after the closing quote.
func plainString(b []byte, i int) (s []byte, end int, ok bool) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80: // escapes, control bytes, non-ASCII: leave to encoding/json
			return nil, 0, false
		}
	}
	return nil, 0, false
}

func parsePointSlow(line []byte) (uns.Point, error) {
	var jp jsonPoint
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&jp); err != nil {
		return uns.Point{}, fmt.Errorf("not a point (want {\"series\":…,\"ts\":…,\"value\":…}): %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return uns.Point{}, errors.New("trailing data after the point")
	}
	if jp.Series == nil || jp.TS == nil || jp.Value == nil {
		return uns.Point{}, errors.New(`series, ts and value are required`)
	}
	if err := uns.ValidatePath(*jp.Series); err != nil {
		return uns.Point{}, fmt.Errorf("series: %w", err)
	}
	p := uns.Point{Series: *jp.Series}
	ts, err := parseMillis(string(bytes.TrimSpace(*jp.TS)))
	if err != nil {
		return uns.Point{}, err
	}
	p.TS = ts
	if p.Value, err = parseValue(*jp.Value); err != nil {
		return uns.Point{}, err
	}
	if jp.Q != nil {
		if p.Quality, err = uns.ParseQuality(*jp.Q); err != nil {
			return uns.Point{}, err
		}
	}
	return p, nil
}

// parseMillis turns unix milliseconds, possibly with a decimal fraction,
// into unix ns exactly.
func parseMillis(s string) (int64, error) {
	ip, frac, _ := strings.Cut(s, ".")
	ms, err := strconv.ParseInt(ip, 10, 64)
	if err != nil || ms < 0 || ms > math.MaxInt64/1_000_000-1 || strings.ContainsAny(s, "eE") {
		return 0, fmt.Errorf("ts %s: want unix milliseconds, like 1700000000000", s)
	}
	ns := ms * 1e6
	if frac != "" {
		f, err := strconv.ParseInt((frac + "000000")[:6], 10, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("ts %s: want unix milliseconds, like 1700000000000", s)
		}
		ns += f
	}
	return ns, nil
}

func parseValue(raw json.RawMessage) (uns.Value, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return uns.Value{}, errors.New("value: missing")
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return uns.Value{}, fmt.Errorf("value: %v", err)
		}
		return uns.String(s), nil
	case string(raw) == "true":
		return uns.Bool(true), nil
	case string(raw) == "false":
		return uns.Bool(false), nil
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		s := string(raw)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return uns.Int(i), nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return uns.Value{}, fmt.Errorf("value %s: not a finite number", s)
		}
		return uns.Float(f), nil
	}
	return uns.Value{}, fmt.Errorf("value %s: want a number, true, false or a string", raw)
}

// AppendPointJSON appends p as one line of the JSON lines format.
func AppendPointJSON(b []byte, p uns.Point, local bool) []byte {
	b = append(b, `{"series":`...)
	b = appendJSONString(b, p.Series)
	b = append(b, `,"ts":`...)
	b = appendMillis(b, p.TS)
	b = append(b, `,"value":`...)
	b = appendValue(b, p.Value)
	b = append(b, `,"q":"`...)
	b = append(b, p.Quality.String()...)
	b = append(b, '"')
	if local {
		b = append(b, `,"to":"local"`...)
	}
	return append(b, "}\n"...)
}

// AppendEventJSON appends e as one line of the JSON lines format, its
// attributes sorted by key.
func AppendEventJSON(b []byte, e Event) []byte {
	b = append(b, `{"event":`...)
	b = appendJSONString(b, e.Kind)
	b = append(b, `,"asset":`...)
	b = appendJSONString(b, e.Asset)
	b = append(b, `,"start":`...)
	b = appendMillis(b, e.Start)
	if e.End != 0 {
		b = append(b, `,"end":`...)
		b = appendMillis(b, e.End)
	}
	if len(e.Attrs) > 0 {
		keys := make([]string, 0, len(e.Attrs))
		for k := range e.Attrs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, `,"attrs":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, e.Attrs[k])
		}
		b = append(b, '}')
	}
	return append(b, "}\n"...)
}

func appendMillis(b []byte, ns int64) []byte {
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	b = strconv.AppendInt(b, ns/1e6, 10)
	if frac := ns % 1e6; frac != 0 {
		f := strconv.AppendInt(nil, 1e6+frac, 10)[1:] // six digits, zero padded
		b = append(b, '.')
		b = append(b, bytes.TrimRight(f, "0")...)
	}
	return b
}

func appendValue(b []byte, v uns.Value) []byte {
	switch v.Kind() {
	case uns.KindFloat:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendJSONString(b, strconv.FormatFloat(f, 'g', -1, 64))
		}
		fm := byte('f')
		if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
			fm = 'e'
		}
		n := len(b)
		b = strconv.AppendFloat(b, f, fm, -1, 64)
		if !bytes.ContainsAny(b[n:], ".e") {
			b = append(b, ".0"...) // keep it a float when read back
		}
		return b
	case uns.KindInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case uns.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case uns.KindString:
		return appendJSONString(b, v.Str())
	}
	return append(b, "null"...)
}

func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// WriteExplain writes s as a table: per pipeline and stage, the points in
// and out, events and skipped points by reason.
func WriteExplain(w io.Writer, s Stats) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "pipeline\tstage\tin\tout\tevents")
	for r := range NumReasons {
		fmt.Fprintf(tw, "\t%s", r)
	}
	fmt.Fprintln(tw, "\t")
	for _, p := range s.Pipelines {
		fmt.Fprintf(tw, "%s\t→ %s\t%d\t%d\t%d", p.Name, p.Output, p.In, p.Out, p.Events)
		var sum [NumReasons]uint64
		for _, st := range p.Stages {
			for r, c := range st.Skipped {
				sum[r] += c
			}
		}
		for _, c := range sum {
			fmt.Fprintf(tw, "\t%d", c)
		}
		fmt.Fprintln(tw, "\t")
		for i, st := range p.Stages {
			fmt.Fprintf(tw, "\t%d %s\t%d\t%d\t%d", i, st.Operator, st.In, st.Out, st.Events)
			for _, c := range st.Skipped {
				fmt.Fprintf(tw, "\t%d", c)
			}
			fmt.Fprintln(tw, "\t")
		}
		if p.In == 0 {
			fmt.Fprintf(tw, "\t(matched no series)\t\t\t\t\t\t\t\t\n")
		}
	}
	fmt.Fprintf(tw, "(no pipeline)\t→ forward\t%d\t%d\t\t\t\t\t\t\n", s.Passed, s.Passed)
	return tw.Flush()
}
