package reports

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/molen-io/molen/internal/series"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

const noteSeries = "s1/a/l1/m1/note"

// noteData stores a series of org a with every value kind and the string
// values a spreadsheet would evaluate; org b has the same path.
func noteData(f *fixture) {
	ms := func(i int) int64 { return at(10, 0).Add(time.Duration(i) * time.Millisecond).UnixNano() }
	vals := []uns.Value{
		uns.Float(-1.5), uns.Int(7), uns.Bool(true),
		uns.String("=SUM(A1:A9)"), uns.String("+31 6 1234"), uns.String("-2+3"), uns.String("@cmd"),
		uns.String(`plain, "quoted"`), uns.String("\tTAB"), uns.String("line\nbreak"),
	}
	var pts []uns.Point
	for i, v := range vals {
		pts = append(pts, uns.Point{Series: noteSeries, TS: ms(i), Value: v})
	}
	pts[1].Quality = uns.Uncertain
	pts = append(pts, uns.Point{Series: noteSeries, TS: ms(10) + 500_000, Value: uns.Float(2.25), Quality: uns.Bad})
	f.ingest("a", pts, nil)
	f.ingest("b", []uns.Point{{Series: noteSeries, TS: ms(5), Value: uns.String("b-secret")}}, nil)
}

func exportPath(params string) string {
	return "/api/v1/export?from=" + fmt.Sprint(at(10, 0).UnixMilli()) + "&to=" + fmt.Sprint(at(11, 0).UnixMilli()) + "&" + params
}

func TestExportPointsCSV(t *testing.T) {
	f := newFixture(t)
	noteData(f)
	code, h, body := f.get(exportPath("series="+noteSeries), f.viewA)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	want := `time,value,quality
2026-11-20T10:00:00.000Z,-1.5,good
2026-11-20T10:00:00.001Z,7,uncertain
2026-11-20T10:00:00.002Z,true,good
2026-11-20T10:00:00.003Z,'=SUM(A1:A9),good
2026-11-20T10:00:00.004Z,'+31 6 1234,good
2026-11-20T10:00:00.005Z,'-2+3,good
2026-11-20T10:00:00.006Z,'@cmd,good
2026-11-20T10:00:00.007Z,"plain, ""quoted""",good
2026-11-20T10:00:00.008Z,'` + "\t" + `TAB,good
2026-11-20T10:00:00.009Z,"line
break",good
2026-11-20T10:00:00.010Z,2.25,bad
`
	if body != want {
		t.Errorf("CSV export:\n%s\nwant:\n%s", body, want)
	}
	if got := h.Get("Content-Type"); got != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	if got, want := h.Get("Content-Disposition"), `attachment; filename="s1_a_l1_m1_note_20261120T100000Z_20261120T110000Z.csv"`; got != want {
		t.Errorf("Content-Disposition %q, want %q", got, want)
	}
}

func TestExportPointsJSONLines(t *testing.T) {
	f := newFixture(t)
	noteData(f)
	code, h, body := f.get(exportPath("format=jsonl&series="+noteSeries), f.viewA)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if h.Get("Content-Type") != "application/jsonl" || !strings.HasSuffix(h.Get("Content-Disposition"), `.jsonl"`) {
		t.Errorf("headers %v", h)
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if len(lines) != 11 {
		t.Fatalf("%d lines, want 11:\n%s", len(lines), body)
	}
	t0 := at(10, 0).UnixMilli()
	for i, want := range []series.PointJSON{
		{Series: noteSeries, TS: t0, Value: -1.5, Q: "good"},
		{Series: noteSeries, TS: t0 + 1, Value: float64(7), Q: "uncertain"},
		{Series: noteSeries, TS: t0 + 3, Value: "=SUM(A1:A9)", Q: "good"}, // JSON lines are for programs: no quote prefix
		{Series: noteSeries, TS: t0 + 9, Value: "line\nbreak", Q: "good"},
	} {
		line := lines[[]int{0, 1, 3, 9}[i]]
		var got series.PointJSON
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("line %q = %+v, want %+v", line, got, want)
		}
	}
}

func TestExportLimitMarker(t *testing.T) {
	f := newFixture(t)
	noteData(f)
	fourth := fmt.Sprint(at(10, 0).UnixMilli() + 3)
	_, _, body := f.get(exportPath("limit=3&series="+noteSeries), f.viewA)
	want := "time,value,quality\n" +
		"2026-11-20T10:00:00.000Z,-1.5,good\n2026-11-20T10:00:00.001Z,7,uncertain\n2026-11-20T10:00:00.002Z,true,good\n" +
		"# truncated at the limit of 3 rows; continue with from=" + fourth + ",,\n"
	if body != want {
		t.Errorf("CSV with limit=3:\n%s\nwant:\n%s", body, want)
	}
	_, _, body = f.get(exportPath("limit=3&format=jsonl&series="+noteSeries), f.viewA)
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if got, want := lines[len(lines)-1], `{"truncated":true,"limit":3,"next":"from=`+fourth+`"}`; len(lines) != 4 || got != want {
		t.Errorf("JSON lines with limit=3: %d lines, last %s; want 4, %s", len(lines), got, want)
	}
	// Exactly at the limit: no marker.
	_, _, body = f.get(exportPath("limit=11&series="+noteSeries), f.viewA)
	if strings.Contains(body, "truncated") || strings.Count(body, "Z,") != 11 {
		t.Errorf("limit=11 of 11 points:\n%s", body)
	}
}

// TestExportPages exports more points than a page, with equal timestamps
// across the page boundary: each point once, in order.
func TestExportPages(t *testing.T) {
	f := newFixture(t)
	const n = exportPage + 5
	pts := make([]uns.Point, n)
	for i := range pts {
		pts[i] = uns.Point{Series: "s/a/l/m/count", TS: at(10, 0).UnixNano() + int64(i/3)*1e6, Value: uns.Int(int64(i))}
	}
	f.ingest("a", pts, nil)
	_, _, body := f.get(exportPath("format=jsonl&series=s/a/l/m/count"), f.viewA)
	sc := bufio.NewScanner(strings.NewReader(body))
	i := 0
	for ; sc.Scan(); i++ {
		var got series.PointJSON
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("line %d %q: %v", i, sc.Text(), err)
		}
		if got.Value != float64(i) {
			t.Fatalf("line %d has value %v, want %d", i, got.Value, i)
		}
	}
	if i != n {
		t.Errorf("%d lines, want %d", i, n)
	}
}

func TestPointPager(t *testing.T) {
	f := newFixture(t)
	var pts []uns.Point
	for i, ts := range []int64{1, 1, 1, 1, 1, 2, 3, 3} {
		pts = append(pts, uns.Point{Series: "p/x", TS: ts, Value: uns.Int(int64(i))})
	}
	f.ingest("a", pts, nil)
	for _, size := range []int{1, 2, 3, 8, 100} {
		pg := &pointPager{st: f.st, org: "a", series: "p/x", from: 0, to: 10, size: size}
		var got []int64
		for {
			page, err := pg.next(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, p := range page {
				got = append(got, p.Value.Int())
			}
		}
		if want := []int64{0, 1, 2, 3, 4, 5, 6, 7}; !reflect.DeepEqual(got, want) {
			t.Errorf("size %d: %v, want %v", size, got, want)
		}
	}
}

func TestEventPager(t *testing.T) {
	f := newFixture(t)
	var evs []uns.Event
	for i, start := range []int64{5, 5, 5, 5, 4, 3, 3, 1} {
		evs = append(evs, uns.Event{Asset: fmt.Sprintf("p/m%d", i), Kind: "downtime", Start: start, End: 100})
	}
	f.ingest("a", nil, evs)
	q := store.EventQuery{AssetPrefix: "p", From: 0, To: 10}
	all, err := f.st.Events(t.Context(), "a", q)
	if err != nil || len(all) != len(evs) {
		t.Fatalf("%d events, %v", len(all), err)
	}
	for _, size := range []int{1, 2, 3, 100} {
		pg := &eventPager{st: f.st, org: "a", q: q, size: size}
		var got []uns.Event
		for {
			page, err := pg.next(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
		}
		if !reflect.DeepEqual(got, all) {
			t.Errorf("size %d: %v, want %v", size, got, all)
		}
	}
}

func TestExportEvents(t *testing.T) {
	f := newFixture(t)
	f.ingest("a", nil, []uns.Event{
		{Asset: "s1/a/l1/m1", Kind: "downtime", Start: at(10, 0).UnixNano(), End: at(10, 30).UnixNano(),
			Attrs: map[string]string{"state": "down", "reason": `=HYPERLINK("x")`, "note": "a<b"}},
		{Asset: "-x/a", Kind: "alarm", Start: at(10, 15).UnixNano()},
		{Asset: "s1/a/l1/m1", Kind: "downtime", Start: at(9, 0).UnixNano(), End: at(9, 30).UnixNano()}, // before the range
	})
	f.ingest("b", nil, []uns.Event{{Asset: "s1/a/l1/m1", Kind: "downtime", Start: at(10, 5).UnixNano(), Attrs: map[string]string{"reason": "b-secret"}}})
	tests := []struct {
		params, want string
	}{
		{"events=1", `asset,kind,start,end,attrs
'-x/a,alarm,2026-11-20T10:15:00.000Z,,
s1/a/l1/m1,downtime,2026-11-20T10:00:00.000Z,2026-11-20T10:30:00.000Z,"{""note"":""a<b"",""reason"":""=HYPERLINK(\""x\"")"",""state"":""down""}"
`},
		{"events=1&asset=s1&kind=downtime", `asset,kind,start,end,attrs
s1/a/l1/m1,downtime,2026-11-20T10:00:00.000Z,2026-11-20T10:30:00.000Z,"{""note"":""a<b"",""reason"":""=HYPERLINK(\""x\"")"",""state"":""down""}"
`},
		{"events=1&kind=alarm&format=jsonl", `{"asset":"-x/a","kind":"alarm","start":` + fmt.Sprint(at(10, 15).UnixMilli()) + "}\n"},
		{"events=1&asset=s1&format=jsonl", `{"asset":"s1/a/l1/m1","kind":"downtime","start":` + fmt.Sprint(at(10, 0).UnixMilli()) +
			`,"end":` + fmt.Sprint(at(10, 30).UnixMilli()) + `,"attrs":{"note":"a<b","reason":"=HYPERLINK(\"x\")","state":"down"}}` + "\n"},
		{"events=1&limit=1", "asset,kind,start,end,attrs\n'-x/a,alarm,2026-11-20T10:15:00.000Z,,\n" +
			"# truncated at the limit of 1 rows; continue with to=" + fmt.Sprint(at(10, 0).UnixMilli()+1) + ",,,,\n"},
	}
	for _, tt := range tests {
		t.Run(tt.params, func(t *testing.T) {
			code, h, body := f.get(exportPath(tt.params), f.viewA)
			if code != 200 || body != tt.want {
				t.Errorf("%d\n%s\nwant:\n%s", code, body, tt.want)
			}
			if strings.Contains(body, "b-secret") {
				t.Errorf("org b's event in org a's export")
			}
			if !strings.HasPrefix(h.Get("Content-Disposition"), `attachment; filename="events_`) {
				t.Errorf("Content-Disposition %q", h.Get("Content-Disposition"))
			}
		})
	}
}

func TestExportIsolation(t *testing.T) {
	f := newFixture(t)
	noteData(f)
	_, _, a := f.get("/api/v1/export?series=s/a/l/m/temp&from=-2h&to=now", f.viewA)
	_, _, b := f.get("/api/v1/export?series=s/a/l/m/temp&from=-2h&to=now", f.tokenB)
	if strings.Count(a, "\n") != 61 || strings.Contains(a, ",1000,") {
		t.Errorf("org a's export of its temperature:\n%s", a)
	}
	if strings.Count(b, ",1000,") != 60 {
		t.Errorf("org b's export of its temperature:\n%s", b)
	}
	if _, _, body := f.get(exportPath("series="+noteSeries), f.viewA); strings.Contains(body, "b-secret") {
		t.Errorf("org b's point in org a's export")
	}
	// A series only org a has is empty for org b, not an error.
	if code, _, body := f.get(exportPath("series=s1/a/l1/m1/missing"), f.tokenB); code != 200 || body != "time,value,quality\n" {
		t.Errorf("unknown series: %d %q", code, body)
	}
}

func TestExportBadInput(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		path, msg string
	}{
		{"/api/v1/export", "series"},
		{"/api/v1/export?series=s/a/l/m/temp&format=xlsx", "format="},
		{"/api/v1/export?series=s/%2B/l/m/temp", "series"},
		{"/api/v1/export?series=" + url.QueryEscape("s/a'; DROP TABLE points;--/x"), "series"},
		{"/api/v1/export?series=s/a/l/m/temp&events=1", "not both"},
		{"/api/v1/export?events=yes", "events="},
		{"/api/v1/export?series=s/a/l/m/temp&asset=s", "asset: only with events=1"},
		{"/api/v1/export?series=s/a/l/m/temp&kind=downtime", "kind: only with events=1"},
		{"/api/v1/export?events=1&kind=Down!", "kind"},
		{"/api/v1/export?events=1&asset=s/%23", "asset"},
		{"/api/v1/export?series=s/a/l/m/temp&limit=10000001", "limit=10000001: limit is 10000000"},
		{"/api/v1/export?series=s/a/l/m/temp&limit=0", "limit="},
		{"/api/v1/export?series=s/a/l/m/temp&from=-1m&to=-2m", "from must be before to"},
		{"/api/v1/export?events=1&to=soon", "to="},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := f.do("GET", tt.path, f.viewA, nil)
			msg, _ := body["error"].(string)
			if code != 400 || !strings.Contains(msg, tt.msg) {
				t.Errorf("GET %s = %d %q, want 400 with %q", tt.path, code, msg, tt.msg)
			}
		})
	}
	if code, _ := f.do("GET", "/api/v1/export?series=s/a/l/m/temp", "", nil); code != 401 {
		t.Errorf("export without token: %d, want 401", code)
	}
}

// twoSeries stores two series of org a whose points interleave in time,
// one with a timestamp both have.
func twoSeries(f *fixture) (a, b string) {
	a, b = "s1/a/l1/m1/speed", "s1/a/l1/m2/state"
	ms := func(i int) int64 { return at(10, 0).Add(time.Duration(i) * time.Millisecond).UnixNano() }
	f.ingest("a", []uns.Point{
		{Series: a, TS: ms(0), Value: uns.Float(1.5)}, {Series: a, TS: ms(2), Value: uns.Int(3)},
		{Series: b, TS: ms(1), Value: uns.String("running")}, {Series: b, TS: ms(2), Value: uns.Bool(false), Quality: uns.Bad},
	}, nil)
	return a, b
}

func TestExportSeveralSeries(t *testing.T) {
	f := newFixture(t)
	a, b := twoSeries(f)
	code, h, body := f.get(exportPath("series="+a+"&series="+b), f.viewA)
	want := "series,time,value,quality\n" +
		a + ",2026-11-20T10:00:00.000Z,1.5,good\n" +
		b + ",2026-11-20T10:00:00.001Z,running,good\n" +
		a + ",2026-11-20T10:00:00.002Z,3,good\n" +
		b + ",2026-11-20T10:00:00.002Z,false,bad\n"
	if code != 200 || body != want {
		t.Errorf("long CSV: %d\n%s\nwant\n%s", code, body, want)
	}
	if cd := h.Get("Content-Disposition"); !strings.Contains(cd, "2_series_") {
		t.Errorf("Content-Disposition %q", cd)
	}
	_, _, body = f.get(exportPath("limit=2&series="+a+"&series="+b), f.viewA)
	if !strings.HasSuffix(body, "# truncated at the limit of 2 rows; continue with from="+fmt.Sprint(at(10, 0).UnixMilli()+2)+",,,\n") {
		t.Errorf("limit=2:\n%s", body)
	}
	_, _, body = f.get(exportPath("format=jsonl&series="+a+"&series="+b), f.viewA)
	if lines := strings.Split(strings.TrimSpace(body), "\n"); len(lines) != 4 || !strings.Contains(lines[1], `"series":"`+b+`"`) {
		t.Errorf("JSON lines:\n%s", body)
	}
	// Organisation b has none of them.
	if _, _, body := f.get(exportPath("series="+a+"&series="+b), f.tokenB); body != "series,time,value,quality\n" {
		t.Errorf("org b: %q", body)
	}
	for _, q := range []string{"series=" + a + "&series=" + a, "series=" + a + "&series=bad//path", "events=1&format=parquet"} {
		if code, _, body := f.get(exportPath(q), f.viewA); code != 400 {
			t.Errorf("%s: %d %s, want 400", q, code, body)
		}
	}
}

func TestExportParquet(t *testing.T) {
	f := newFixture(t)
	a, b := twoSeries(f)
	for _, query := range []string{"series=" + a + "&series=" + b, "limit=1&series=" + b} {
		code, h, body := f.get(exportPath("format=parquet&"+query), f.viewA)
		if code != 200 || h.Get("Content-Type") != "application/vnd.apache.parquet" || !strings.HasSuffix(h.Get("Content-Disposition"), `.parquet"`) {
			t.Fatalf("%s: %d %v", query, code, h)
		}
		file, err := parquet.OpenFile(strings.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatalf("%s: read back: %v", query, err)
		}
		rows, err := parquet.Read[parquetRow](strings.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatalf("%s: read back: %v", query, err)
		}
		var got []string
		for _, r := range rows {
			v := "-"
			switch {
			case r.ValueNum != nil:
				v = fmt.Sprint(*r.ValueNum)
			case r.ValueStr != nil:
				v = *r.ValueStr
			case r.ValueBool != nil:
				v = fmt.Sprint(*r.ValueBool)
			}
			got = append(got, fmt.Sprintf("%s %s %s", r.Series, time.UnixMicro(r.TS).UTC().Format(time.RFC3339Nano), v))
		}
		want := []string{a + " 2026-11-20T10:00:00Z 1.5", b + " 2026-11-20T10:00:00.001Z running", a + " 2026-11-20T10:00:00.002Z 3", b + " 2026-11-20T10:00:00.002Z false"}
		trunc, _ := file.Lookup("molen.truncated")
		if strings.HasPrefix(query, "limit") {
			want = want[1:2]
			if trunc != "limit 1; continue with from="+fmt.Sprint(at(10, 0).UnixMilli()+2) {
				t.Errorf("truncation metadata %q", trunc)
			}
		} else if trunc != "" {
			t.Errorf("truncation metadata %q in a whole export", trunc)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", query, got, want)
		}
		ts, _ := file.Schema().Lookup("ts")
		if lt := ts.Node.Type().LogicalType(); lt == nil || lt.String() != "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)" {
			t.Errorf("ts column: %v, want a UTC timestamp in microseconds", lt)
		}
	}
}
