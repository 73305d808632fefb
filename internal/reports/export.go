package reports

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/series"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// Export limits.
const (
	// MaxExportRows bounds one export (points or events). An export that
	// reaches it ends with a marker row saying where to continue.
	MaxExportRows = 10_000_000
	// MaxExportSeries bounds the series of one export.
	MaxExportSeries = 100
	// exportPage is how many points or events an export holds at once.
	exportPage = 10_000
)

// timeMS formats unix ns as RFC 3339 UTC with milliseconds.
func timeMS(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// csvSafe defuses spreadsheet formula injection: a text cell starting with
// = + - @ (or tab or carriage return, which some spreadsheets skip) gets a
// leading single quote, so it is shown as text and never evaluated.
func csvSafe(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// rawReader reads the points of a series (store.Points.Raw).
type rawReader interface {
	Raw(ctx context.Context, org, series string, from, to int64, limit int) ([]uns.Point, error)
}

// pointPager reads the points of one series in [from, to) page by page in
// time order. Raw has no cursor, so the next page starts at the last
// timestamp seen and skips the points at that timestamp already returned:
// Raw orders points with equal timestamps by ingestion, and a point
// ingested meanwhile sorts after them, so the skip stays correct.
type pointPager struct {
	st       rawReader
	org      string
	series   string
	from, to int64
	size     int
	skip     int // points at from already returned
	done     bool
}

func (p *pointPager) next(ctx context.Context) ([]uns.Point, error) {
	if p.done {
		return nil, nil
	}
	limit := p.size + p.skip
	pts, err := p.st.Raw(ctx, p.org, p.series, p.from, p.to, limit)
	if err != nil {
		return nil, err
	}
	p.done = len(pts) < limit
	pts = pts[min(p.skip, len(pts)):]
	if len(pts) > 0 {
		last := pts[len(pts)-1].TS
		n := 0
		for i := len(pts) - 1; i >= 0 && pts[i].TS == last; i-- {
			n++
		}
		if last == p.from {
			p.skip += n
		} else {
			p.from, p.skip = last, n
		}
	}
	return pts, nil
}

// eventPager reads events page by page, newest start first as the store
// orders them. The next page asks for events starting at or before the
// last start seen and skips those already returned: the store's order of
// events with equal starts is total (asset, kind, key attributes).
type eventPager struct {
	st   store.Events
	org  string
	q    store.EventQuery // q.To moves back; q.Limit is set per page
	size int
	skip int // events starting at q.To-1 already returned
	done bool
}

func (p *eventPager) next(ctx context.Context) ([]uns.Event, error) {
	if p.done {
		return nil, nil
	}
	q := p.q
	q.Limit = p.size + p.skip
	evs, err := p.st.Events(ctx, p.org, q)
	if err != nil {
		return nil, err
	}
	p.done = len(evs) < q.Limit
	evs = evs[min(p.skip, len(evs)):]
	if len(evs) > 0 {
		last := evs[len(evs)-1].Start
		n := 0
		for i := len(evs) - 1; i >= 0 && evs[i].Start == last; i-- {
			n++
		}
		if last+1 == p.q.To {
			p.skip += n
		} else {
			p.q.To, p.skip = last+1, n
		}
	}
	return evs, nil
}

// exportWriter writes rows of one export format.
type exportWriter struct {
	csv  *csv.Writer
	buf  *bufio.Writer // JSON lines
	json *json.Encoder
	pq   *parquet.GenericWriter[parquetRow]
	rows int // parquet rows since the last row group
}

// parquetRow is a point in a Parquet export: one of the value columns is
// set, by the point's kind (ints as value_num).
type parquetRow struct {
	Series    string   `parquet:"series,dict"`
	TS        int64    `parquet:"ts,timestamp(microsecond)"`
	ValueNum  *float64 `parquet:"value_num,optional"`
	ValueStr  *string  `parquet:"value_str,optional"`
	ValueBool *bool    `parquet:"value_bool,optional"`
}

// parquetGroup is how many rows a Parquet row group holds: the writer
// keeps one group in memory.
const parquetGroup = 100_000

func newExportWriter(w io.Writer, format string) *exportWriter {
	switch format {
	case "csv":
		return &exportWriter{csv: csv.NewWriter(w)}
	case "parquet":
		return &exportWriter{pq: parquet.NewGenericWriter[parquetRow](w, parquet.Compression(&parquet.Zstd))}
	}
	buf := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // a file, not HTML: keep < > & readable
	return &exportWriter{buf: buf, json: enc}
}

// row writes a CSV record or, in JSON lines, v.
func (e *exportWriter) row(record []string, v any) error {
	if e.csv != nil {
		return e.csv.Write(record)
	}
	return e.json.Encode(v)
}

// point writes a point: in CSV, with its series first when long is set.
func (e *exportWriter) point(pt uns.Point, long bool) error {
	switch {
	case e.pq != nil:
		row := parquetRow{Series: pt.Series, TS: pt.TS / 1e3}
		switch v := pt.Value.Any().(type) {
		case string:
			row.ValueStr = &v
		case bool:
			row.ValueBool = &v
		case float64:
			row.ValueNum = &v
		case int64:
			f := float64(v)
			row.ValueNum = &f
		}
		if _, err := e.pq.Write([]parquetRow{row}); err != nil {
			return err
		}
		if e.rows++; e.rows == parquetGroup {
			e.rows = 0
			return e.pq.Flush()
		}
		return nil
	case e.csv != nil:
		v := pt.Value.String()
		if pt.Value.Kind() == uns.KindString {
			v = csvSafe(pt.Value.Str())
		}
		rec := []string{timeMS(pt.TS), v, pt.Quality.String()}
		if long {
			rec = append([]string{pt.Series}, rec...)
		}
		return e.csv.Write(rec)
	}
	return e.json.Encode(series.Point(pt))
}

// truncated writes the marker of an export cut at its limit: a row of
// CSV or JSON lines, file metadata in Parquet.
func (e *exportWriter) truncated(limit int, next string, cols int) error {
	if e.pq != nil {
		e.pq.SetKeyValueMetadata("molen.truncated", fmt.Sprintf("limit %d; continue with %s", limit, next))
		return nil
	}
	msg := fmt.Sprintf("# truncated at the limit of %d rows; continue with %s", limit, next)
	rec := make([]string, cols)
	rec[0] = msg
	return e.row(rec, exportMarker{Truncated: true, Limit: limit, Next: next})
}

// flush writes what is buffered; the Parquet file is written whole by
// close.
func (e *exportWriter) flush() error {
	switch {
	case e.csv != nil:
		e.csv.Flush()
		return e.csv.Error()
	case e.pq != nil:
		return nil
	}
	return e.buf.Flush()
}

// close ends the export.
func (e *exportWriter) close() error {
	if e.pq != nil {
		return e.pq.Close()
	}
	return e.flush()
}

// exportMarker is the last line of a JSON lines export cut by its limit.
type exportMarker struct {
	Truncated bool   `json:"truncated"`
	Limit     int    `json:"limit"`
	Next      string `json:"next"` // the parameter that continues the export, e.g. "from=1763726400000"
}

func (s *Service) export(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	q := r.URL.Query()
	format := q.Get("format")
	switch format {
	case "":
		format = "csv"
	case "csv", "jsonl", "parquet":
	default:
		return api.BadRequest("format=%q: want csv, jsonl or parquet", format)
	}
	events := false
	switch v := q.Get("events"); v {
	case "":
	case "1", "true":
		events = true
	default:
		return api.BadRequest("events=%q: want 1 to export events", v)
	}
	from, to, err := api.Range(q, s.now())
	if err != nil {
		return err
	}
	limit, err := api.Limit("limit", q.Get("limit"), MaxExportRows, MaxExportRows)
	if err != nil {
		return err
	}
	if events {
		if format == "parquet" {
			return api.BadRequest("format=parquet: points only; export events as csv or jsonl")
		}
		if q.Has("series") {
			return api.BadRequest("series: give series or events=1, not both")
		}
		eq, err := series.EventQuery(r)
		if err != nil {
			return err
		}
		eq.From, eq.To = from, to
		return s.exportEvents(w, r, p, eq, format, limit)
	}
	for _, name := range []string{"asset", "kind"} {
		if q.Has(name) {
			return api.BadRequest("%s: only with events=1", name)
		}
	}
	paths := q["series"]
	if len(paths) == 0 {
		return api.BadRequest("series: required (repeat it for several series), or events=1 to export events")
	}
	if len(paths) > MaxExportSeries {
		return api.BadRequest("series: %d given; at most %d in one export", len(paths), MaxExportSeries)
	}
	for i, path := range paths {
		if err := uns.ValidatePath(path); err != nil {
			return api.BadRequest("series: %v (or events=1 to export events)", err)
		}
		if slices.Contains(paths[:i], path) {
			return api.BadRequest("series: %s given twice", path)
		}
	}
	return s.exportPoints(w, r, p, paths, from, to, format, limit)
}

// startExport writes the headers of a download.
func startExport(w http.ResponseWriter, format, name string) {
	h := w.Header()
	switch format {
	case "csv":
		h.Set("Content-Type", "text/csv; charset=utf-8")
	case "parquet":
		h.Set("Content-Type", "application/vnd.apache.parquet")
	default:
		h.Set("Content-Type", "application/jsonl")
	}
	// name holds only UNS path characters and '_', so it needs no escaping.
	h.Set("Content-Disposition", `attachment; filename="`+name+"."+format+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// exportName is a download's file name: what, and the range in UTC.
func exportName(what string, from, to int64) string {
	const compact = "20060102T150405Z"
	return strings.ReplaceAll(what, "/", "_") + "_" +
		time.Unix(0, from).UTC().Format(compact) + "_" + time.Unix(0, to).UTC().Format(compact)
}

// exportPoints streams the points of one or more series, in time order
// (several series merged; equal timestamps in the order of paths). An
// error after the answer started aborts the connection (see
// api.Route.Stream).
func (s *Service) exportPoints(w http.ResponseWriter, r *http.Request, p api.Principal, paths []string, from, to int64, format string, limit int) error {
	ctx := r.Context()
	pagers := make([]*pointPager, len(paths))
	pages := make([][]uns.Point, len(paths))
	for i, path := range paths {
		org, err := api.DataOrg(r, p, api.DataSeries, path)
		if err != nil {
			return err
		}
		pagers[i] = &pointPager{st: s.st, org: org, series: path, from: from, to: to, size: min(exportPage, limit)}
		// The first pages are read before the status is sent, so that a
		// failing store still gets an error answer.
		if pages[i], err = pagers[i].next(ctx); err != nil {
			return err
		}
	}
	name := paths[0]
	if len(paths) > 1 {
		name = fmt.Sprintf("%d_series", len(paths))
	}
	startExport(w, format, exportName(name, from, to))
	long := len(paths) > 1
	ew := newExportWriter(w, format)
	rc := http.NewResponseController(w)
	cols := []string{"time", "value", "quality"}
	if long {
		cols = append([]string{"series"}, cols...)
	}
	if format == "csv" {
		if err := ew.row(cols, nil); err != nil {
			return err
		}
	}
	for written := 0; ; written++ {
		// The next point is the earliest of the series' current pages.
		next := -1
		for i, pg := range pages {
			if len(pg) > 0 && (next < 0 || pg[0].TS < pages[next][0].TS) {
				next = i
			}
		}
		if next < 0 {
			break
		}
		pt := pages[next][0]
		if written == limit {
			if err := ew.truncated(limit, "from="+strconv.FormatInt(pt.TS/1e6, 10), len(cols)); err != nil {
				return err
			}
			break
		}
		if err := ew.point(pt, long); err != nil {
			return err
		}
		if pages[next] = pages[next][1:]; len(pages[next]) == 0 {
			if err := ew.flush(); err != nil {
				return err
			}
			if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return err
			}
			var err error
			if pages[next], err = pagers[next].next(ctx); err != nil {
				return err
			}
		}
	}
	return ew.close()
}

func (s *Service) exportEvents(w http.ResponseWriter, r *http.Request, p api.Principal, eq store.EventQuery, format string, limit int) error {
	ctx := r.Context()
	org, asset, err := api.DataPrefix(r, p, api.DataSeries, eq.AssetPrefix)
	if err != nil {
		return err
	}
	eq.AssetPrefix = asset
	pg := &eventPager{st: s.st, org: org, q: eq, size: min(exportPage, limit)}
	evs, err := pg.next(ctx)
	if err != nil {
		return err
	}
	what := "events"
	if eq.AssetPrefix != "" {
		what += "_" + strings.TrimSuffix(eq.AssetPrefix, "/")
	}
	if eq.Kind != "" {
		what += "_" + eq.Kind
	}
	startExport(w, format, exportName(what, eq.From, eq.To))
	ew := newExportWriter(w, format)
	rc := http.NewResponseController(w)
	if format == "csv" {
		if err := ew.row([]string{"asset", "kind", "start", "end", "attrs"}, nil); err != nil {
			return err
		}
	}
	written := 0
	for len(evs) > 0 {
		for _, e := range evs {
			if written == limit {
				// Events come newest first: continue below this one's start
				// (rounded up to the next millisecond, so events in that
				// millisecond may repeat).
				if err := ew.truncated(limit, "to="+strconv.FormatInt(e.Start/1e6+1, 10), 5); err != nil {
					return err
				}
				evs = nil
				break
			}
			var rec []string
			var js series.EventJSON
			if format == "csv" {
				end, attrs := "", ""
				if e.End != 0 {
					end = timeMS(e.End)
				}
				if len(e.Attrs) > 0 {
					var b strings.Builder
					enc := json.NewEncoder(&b) // keys sorted
					enc.SetEscapeHTML(false)
					if err := enc.Encode(e.Attrs); err != nil {
						return err
					}
					attrs = strings.TrimSuffix(b.String(), "\n")
				}
				rec = []string{csvSafe(e.Asset), csvSafe(e.Kind), timeMS(e.Start), end, csvSafe(attrs)}
			} else {
				js = series.Event(e)
			}
			if err := ew.row(rec, js); err != nil {
				return err
			}
			written++
		}
		if err := ew.flush(); err != nil {
			return err
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if evs == nil {
			break
		}
		if evs, err = pg.next(ctx); err != nil {
			return err
		}
	}
	return ew.flush()
}
