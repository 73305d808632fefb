package output_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/prometheus/prometheus/prompb"

	"github.com/molen-io/molen/internal/uns"
)

// receiver is an HTTP server that records what it decoded, answering
// with status (200 unless set).
type receiver struct {
	mu     sync.Mutex
	got    []uns.Point
	reqs   []*http.Request
	status int
	errs   []string
}

func (r *receiver) serve(t *testing.T, decode func(req *http.Request, body []byte) ([]uns.Point, error)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.reqs = append(r.reqs, req)
		if r.status != 0 {
			w.WriteHeader(r.status)
			return
		}
		pts, err := decode(req, body)
		if err != nil {
			r.errs = append(r.errs, err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.got = append(r.got, pts...)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (r *receiver) points() []uns.Point {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// decodeLines decodes line protocol with InfluxDB's own parser.
func decodeLines(req *http.Request, body []byte) ([]uns.Point, error) {
	var out []uns.Point
	dec := lineprotocol.NewDecoderWithBytes(body)
	for dec.Next() {
		m, err := dec.Measurement()
		if err != nil {
			return nil, err
		}
		if string(m) != "uns" {
			return nil, fmt.Errorf("measurement %q", m)
		}
		var p uns.Point
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				return nil, err
			}
			if k == nil {
				break
			}
			switch string(k) {
			case "path":
				p.Series = string(v)
			case "quality":
				if p.Quality, err = uns.ParseQuality(string(v)); err != nil {
					return nil, err
				}
			}
		}
		for {
			k, v, err := dec.NextField()
			if err != nil {
				return nil, err
			}
			if k == nil {
				break
			}
			switch v.Kind() {
			case lineprotocol.Float:
				p.Value = uns.Float(v.FloatV())
			case lineprotocol.Int:
				p.Value = uns.Int(v.IntV())
			case lineprotocol.Bool:
				p.Value = uns.Bool(v.BoolV())
			case lineprotocol.String:
				p.Value = uns.String(v.StringV())
			}
		}
		ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		if err != nil {
			return nil, err
		}
		p.TS = ts.UnixNano()
		out = append(out, p)
	}
	return out, dec.Err()
}

// TestInflux writes points to a receiver that parses them with InfluxDB's
// line-protocol decoder: every value kind, quality and time (one far in
// the future) arrive as sent, on the 2.x write API with the token.
func TestInflux(t *testing.T) {
	var r receiver
	srv := r.serve(t, decodeLines)
	s := startSet(t, fmt.Sprintf("outputs:\n  - influx: {url: %s, org: plant, bucket: molen, token: s3cret}\n", srv.URL))
	want := append(samplePoints("plant"), uns.Point{Series: "plant/hall-1/line.2/x_1", TS: 5e18, Value: uns.Float(-0.5)})
	feed(t, s, want...)
	waitFor(t, "the points", func() bool { return len(r.points()) >= len(want) })
	if got := r.points(); !slices.Equal(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	r.mu.Lock()
	req := r.reqs[0]
	r.mu.Unlock()
	if req.URL.Path != "/api/v2/write" || req.URL.Query().Get("bucket") != "molen" || req.URL.Query().Get("org") != "plant" ||
		req.URL.Query().Get("precision") != "ns" || req.Header.Get("Authorization") != "Token s3cret" {
		t.Errorf("request %s %v", req.URL, req.Header)
	}
	waitFor(t, "the status", func() bool { st := status(s, "influx"); return st.Sent == int64(len(want)) && st.Pending == 0 })
	if st := status(s, "influx"); strings.Contains(st.Target, "s3cret") || st.Target != srv.URL {
		t.Errorf("target %q", st.Target)
	}
}

// TestHTTPRefusedAndRetried: a receiver that answers 503 gets the batch
// again until it takes it; one that answers 400 makes the output drop the
// batch, count it, and go on with the next.
func TestHTTPRefusedAndRetried(t *testing.T) {
	var r receiver
	r.status = http.StatusServiceUnavailable
	srv := r.serve(t, decodeLines)
	s := startSet(t, fmt.Sprintf("outputs:\n  - influx: {url: %s, db: molen}\n", srv.URL))
	pts := samplePoints("plant")
	feed(t, s, pts[:2]...)
	waitFor(t, "a retry", func() bool { return status(s, "influx").Retried >= 1 })
	if st := status(s, "influx"); st.State != "retrying" || !strings.Contains(st.LastError, "503") || st.Pending != 2 {
		t.Errorf("while the receiver fails: %+v", st)
	}
	r.mu.Lock()
	r.status = http.StatusBadRequest
	r.mu.Unlock()
	waitFor(t, "the refused batch counted", func() bool { return status(s, "influx").Dropped == 2 })
	r.mu.Lock()
	r.status = 0
	if q := r.reqs[0].URL; q.Path != "/write" || q.Query().Get("db") != "molen" {
		t.Errorf("1.x request %s", q)
	}
	r.mu.Unlock()
	feed(t, s, pts[2:]...)
	waitFor(t, "the next batch", func() bool { return len(r.points()) == 2 })
	if got := r.points(); !slices.Equal(got, pts[2:]) {
		t.Errorf("got %+v, want %+v", got, pts[2:])
	}
}

// decodeRemoteWrite decodes a remote-write request with Prometheus's own
// protobuf types and the reference snappy.
func decodeRemoteWrite(req *http.Request, body []byte) ([]uns.Point, error) {
	if req.Header.Get("Content-Encoding") != "snappy" || req.Header.Get("Content-Type") != "application/x-protobuf" ||
		req.Header.Get("X-Prometheus-Remote-Write-Version") != "0.1.0" {
		return nil, fmt.Errorf("headers %v", req.Header)
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, err
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		return nil, err
	}
	var out []uns.Point
	for _, ts := range wr.Timeseries {
		if !slices.IsSortedFunc(ts.Labels, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) }) {
			return nil, fmt.Errorf("labels not sorted: %v", ts.Labels)
		}
		var path string
		for _, l := range ts.Labels {
			switch {
			case l.Name == "path":
				path = l.Value
			case l.Name == "__name__" && l.Value != "molen_uns", l.Name == "site" && l.Value != "plant1":
				return nil, fmt.Errorf("label %v", l)
			}
		}
		for _, smp := range ts.Samples {
			out = append(out, uns.Point{Series: path, TS: smp.Timestamp * 1e6, Value: uns.Float(smp.Value)})
		}
	}
	return out, nil
}

// TestRemoteWrite sends points to a receiver that decodes Prometheus
// remote write with prompb: numbers, integers and booleans as samples in
// milliseconds, strings left out, the extra labels on every series.
func TestRemoteWrite(t *testing.T) {
	var r receiver
	srv := r.serve(t, decodeRemoteWrite)
	s := startSet(t, fmt.Sprintf("outputs:\n  - remote_write: {url: %s/api/v1/write, labels: {site: plant1}, headers: {X-Scope-OrgID: plant}}\n", srv.URL))
	in := samplePoints("plant")
	feed(t, s, in...)
	in2 := []uns.Point{{Series: in[0].Series, TS: in[0].TS + 5e6, Value: uns.Float(82)}}
	feed(t, s, in2...)
	want := []uns.Point{
		{Series: in[1].Series, TS: in[1].TS, Value: uns.Float(1042)},
		{Series: in[2].Series, TS: in[2].TS, Value: uns.Float(1)},
		{Series: in[0].Series, TS: in[0].TS, Value: uns.Float(81.25)},
		{Series: in[0].Series, TS: in[0].TS + 5e6, Value: uns.Float(82)},
	}
	waitFor(t, "the samples", func() bool { st := status(s, "remote_write"); return st.Pending == 0 && st.Sent == 5 })
	got := r.points()
	sortPoints := func(p []uns.Point) {
		slices.SortFunc(p, func(a, b uns.Point) int {
			return strings.Compare(fmt.Sprint(a.Series, a.TS), fmt.Sprint(b.Series, b.TS))
		})
	}
	sortPoints(got)
	sortPoints(want)
	if !slices.Equal(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	r.mu.Lock()
	if h := r.reqs[0].Header.Get("X-Scope-OrgID"); h != "plant" {
		t.Errorf("header %q", h)
	}
	if len(r.errs) > 0 {
		t.Error(r.errs)
	}
	r.mu.Unlock()
}
