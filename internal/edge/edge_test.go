package edge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/klauspost/compress/zstd"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/molen-io/molen/internal/connector/modbus/modbustest"
	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/logtest"
	"github.com/molen-io/molen/internal/outbox"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// env is a hub and an edge enrolled at it, on ephemeral ports.
type env struct {
	t     *testing.T
	hub   *hub.Hub
	edge  *edge.Edge
	admin string
	logs  *logtest.Buffer
	cfg   edge.Config
}

func start(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	h, err := hub.Start(ctx, hub.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	_, token, err := h.CreateEdge(ctx, "test-edge")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := h.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	cfg := edge.Config{
		DataDir: t.TempDir(), MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0",
		HubURL: h.URL(), EnrollToken: token,
		Log: slog.New(slog.NewTextHandler(logs, nil)),
	}
	v := &env{t: t, hub: h, admin: admin, logs: logs, cfg: cfg}
	v.startEdge()
	return v
}

// startEdge starts (or restarts) the edge with v.cfg.
func (v *env) startEdge() {
	v.t.Helper()
	e, err := edge.Start(v.t.Context(), v.cfg)
	if err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() { e.Close() })
	v.edge = e
}

// restartWithPipeline restarts the edge with spec as its pipeline file.
func (v *env) restartWithPipeline(spec string) {
	v.t.Helper()
	if err := v.edge.Close(); err != nil {
		v.t.Fatal(err)
	}
	file := filepath.Join(v.t.TempDir(), "pipeline.yaml")
	if err := os.WriteFile(file, []byte(spec), 0o600); err != nil {
		v.t.Fatal(err)
	}
	v.cfg.PipelineFile = file
	v.startEdge()
}

// device connects a real MQTT client to the edge.
func (v *env) device(version uint) paho.Client {
	v.t.Helper()
	opts := paho.NewClientOptions().AddBroker("tcp://" + v.edge.MQTTAddr()).
		SetClientID(fmt.Sprintf("dev-%d-%d", version, time.Now().UnixNano())).SetProtocolVersion(version)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		v.t.Fatalf("connect device: %v", tok.Error())
	}
	v.t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// device5 connects a real MQTT 5 client to the edge, configured by cfg
// (its connection set here).
func (v *env) device5(cfg paho5.ClientConfig) *paho5.Client {
	v.t.Helper()
	conn, err := net.Dial("tcp", v.edge.MQTTAddr())
	if err != nil {
		v.t.Fatal(err)
	}
	cfg.Conn = conn
	// paho's default of 10 s is short for a machine busy with other work.
	cfg.PacketTimeout = patience
	c := paho5.NewClient(cfg)
	if _, err := c.Connect(v.t.Context(), &paho5.Connect{ClientID: cfg.ClientID, CleanStart: true, KeepAlive: 30}); err != nil {
		v.t.Fatalf("MQTT 5 connect: %v", err)
	}
	v.t.Cleanup(func() { c.Disconnect(&paho5.Disconnect{}) })
	return c
}

// publish5 publishes at QoS 1 from an MQTT 5 client and returns the
// PUBACK's reason code.
func publish5(t *testing.T, c *paho5.Client, topic string, payload []byte) byte {
	t.Helper()
	pr, err := c.Publish(t.Context(), &paho5.Publish{Topic: topic, QoS: 1, Payload: payload})
	if pr == nil {
		t.Fatalf("MQTT 5 publish on %s: no PUBACK: %v", topic, err)
	}
	return pr.ReasonCode
}

func publish(t *testing.T, c paho.Client, topic string, payload []byte) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// getJSON GETs a hub API path with the admin token and decodes the answer.
func (v *env) getJSON(path string, out any) {
	v.t.Helper()
	req, _ := http.NewRequest("GET", v.hub.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+v.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		v.t.Fatal(err)
	}
}

// latest returns the hub's latest values under prefix, by series.
func (v *env) latest(prefix string) map[string]any {
	v.t.Helper()
	var out struct {
		Points []struct {
			Series string `json:"series"`
			Value  any    `json:"value"`
		} `json:"points"`
	}
	v.getJSON("/api/v1/latest?prefix="+url.QueryEscape(prefix), &out)
	m := map[string]any{}
	for _, p := range out.Points {
		m[p.Series] = p.Value
	}
	return m
}

// count returns how many points of series the hub stored.
func (v *env) count(series string) int {
	v.t.Helper()
	var out struct {
		Points []json.RawMessage `json:"points"`
	}
	v.getJSON("/api/v1/query?agg=raw&from=0&to=now&series="+url.QueryEscape(series), &out)
	return len(out.Points)
}

// patience bounds every wait of these tests: generous, since a wait ends
// as soon as its condition holds, and the machine may be busy with other
// work. A wait that runs out fails the test saying what it waited for.
const patience = 2 * time.Minute

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", patience, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBadInputIsRejectedCountedAndIngestContinues(t *testing.T) {
	v := start(t)
	dev3 := v.device(4) // MQTT 3.1.1
	bad := []struct {
		topic, payload, reason string
	}{
		{"f/m/temp", "not json", uns.ReasonNotJSON},
		{"f/m/temp", "NaN", uns.ReasonNonFinite},
		{"f/m/temp", "1e999", uns.ReasonNonFinite},
		{"f/m/temp", "[1,2]", uns.ReasonWrongType},
		{"f/m/temp", `{"value": null}`, uns.ReasonWrongType},
		{"f/m/temp", `"` + strings.Repeat("x", uns.MaxPayload) + `"`, uns.ReasonOversized},
		{"temp", "1", uns.ReasonInvalidPath},
		{"f/m /temp", "1", uns.ReasonInvalidPath},
		{"f/m/temp", `{"value": 1, "ts": "yesterday"}`, uns.ReasonBadTS},
		{"f/m/temp", `{"value": 1, "q": "great"}`, uns.ReasonBadQuality},
	}
	for i, b := range bad {
		publish(t, dev3, b.topic, []byte(b.payload))
		// A good message after each bad one must still be stored.
		publish(t, dev3, "f/m/good", []byte(fmt.Sprint(i)))
	}
	want := map[string]int64{}
	for _, b := range bad {
		want[b.reason]++
	}
	st := v.edge.Status()
	for reason, n := range want {
		if got := st.Ingest.Rejected[reason]; got != n {
			t.Errorf("status rejected[%s] = %d, want %d", reason, got, n)
		}
	}
	if st.Ingest.Points != int64(len(bad)) {
		t.Errorf("accepted %d points, want %d", st.Ingest.Points, len(bad))
	}
	if len(st.Ingest.LastRejects) != len(bad) || st.Ingest.LastRejects[0].Reason != uns.ReasonBadQuality {
		t.Errorf("last rejects = %+v, want %d, newest bad_quality", st.Ingest.LastRejects, len(bad))
	}
	// The same counts on /metrics.
	m := v.scrape()
	for reason, n := range want {
		series := fmt.Sprintf("molen_edge_messages_rejected_total{reason=%q}", reason)
		if got, ok := m[series]; !ok || got != float64(n) {
			t.Errorf("/metrics %s = %v (present %v), want %d", series, got, ok, n)
		}
	}
	// MQTT 5 devices get a negative PUBACK with a reason code.
	ctx := t.Context()
	dev5 := v.device5(paho5.ClientConfig{ClientID: "dev5"})
	for _, tt := range []struct {
		topic, payload string
		code           byte
	}{
		{"f/m/temp", "garbage", 0x99}, // payload format invalid
		{"f/m/temp", "NaN", 0x99},
		{"f/m /temp", "1", 0x90}, // topic name invalid
	} {
		pr, err := dev5.Publish(ctx, &paho5.Publish{Topic: tt.topic, QoS: 1, Payload: []byte(tt.payload)})
		if err == nil || pr == nil || pr.ReasonCode != tt.code {
			t.Errorf("MQTT 5 publish %q on %q: %v, %+v; want reason code %#x", tt.payload, tt.topic, err, pr, tt.code)
		}
	}
	if st := v.edge.Status(); st.Ingest.Rejected[uns.ReasonNotJSON] != want[uns.ReasonNotJSON]+1 {
		t.Errorf("MQTT 5 rejection not counted: %d", st.Ingest.Rejected[uns.ReasonNotJSON])
	}
	if pr, err := dev5.Publish(ctx, &paho5.Publish{Topic: "f/m/good", QoS: 1, Payload: []byte("99")}); err != nil || pr.ReasonCode != 0 {
		t.Fatalf("MQTT 5 good publish: %v %+v", err, pr)
	}
	eventually(t, "the last good value at the hub", func() bool {
		return v.latest("f/m")["f/m/good"] == float64(99)
	})
}

// TestNoAcknowledgementWithoutStorage fills a small outbox with the hub out
// of reach and the reject-new policy: a device then gets no PUBACK, every
// acknowledged message is in the outbox, and once the hub is reachable the
// device's resend is stored too.
func TestNoAcknowledgementWithoutStorage(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	hubURL := v.cfg.HubURL
	v.cfg.HubURL = "http://127.0.0.1:1" // nothing listens there
	v.cfg.Outbox = outbox.Options{MaxBytes: 16 << 10, SegmentBytes: 4 << 10, Full: outbox.RejectNew}
	v.startEdge()
	addr := v.edge.MQTTAddr()
	v.cfg.MQTTListen = addr // the device reconnects to the same address later

	// A plain client without auto-reconnect: paho completes the tokens of
	// messages it re-queues on reconnect before any PUBACK, which would
	// blur what the edge acknowledged. Without it, paho completes a
	// publish's token with an error when the connection is lost.
	dev := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("filler").SetAutoReconnect(false))
	if tok := dev.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	acked, owed := 0, -1
	for i := range 2000 {
		tok := dev.Publish("f/m/fill", 1, false, []byte(fmt.Sprint(i)))
		if !tok.WaitTimeout(patience) {
			t.Fatalf("publish %d: neither acknowledged nor refused (connection dropped)", i)
		}
		if tok.Error() != nil {
			owed = i // no PUBACK: the edge refused it and dropped the connection
			break
		}
		acked++
	}
	dev.Disconnect(0)
	if owed < 0 {
		t.Fatalf("all %d publishes were acknowledged; the outbox never filled", acked)
	}
	st := v.edge.Status()
	if st.Ingest.Refused["full"] == 0 {
		t.Errorf("refused[full] = 0, want the refusal counted")
	}
	if st.Outbox.PendingPoints != int64(acked) {
		t.Errorf("outbox holds %d points, but %d publishes were acknowledged", st.Outbox.PendingPoints, acked)
	}

	// The hub comes into reach: the buffer drains, and the device's resend
	// of the refused message is stored as well.
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	v.cfg.HubURL = hubURL
	v.startEdge()
	publish(t, v.device(4), "f/m/fill", []byte(fmt.Sprint(owed)))
	sent := acked + 1
	eventually(t, fmt.Sprintf("all %d messages at the hub", sent), func() bool { return v.count("f/m/fill") == sent })
}

func TestRevokedEdgeGets401AndLosesNothing(t *testing.T) {
	v := start(t)
	dev := v.device(4)
	publish(t, dev, "f/m/n", []byte("1"))
	eventually(t, "first value at the hub", func() bool { return v.latest("f/m")["f/m/n"] == float64(1) })

	// Revoke the edge through the API.
	id := v.edge.Status().Edge.ID
	req, _ := http.NewRequest("POST", v.hub.URL()+"/api/v1/edges/"+id+"/revoke", nil)
	req.Header.Set("Authorization", "Bearer "+v.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", err, resp.Status)
	}
	resp.Body.Close()

	for i := 2; i <= 50; i++ {
		publish(t, dev, "f/m/n", []byte(fmt.Sprint(i)))
	}
	eventually(t, "the edge to report the 401", func() bool { return v.edge.Status().Hub.Unauthorized })
	st := v.edge.Status()
	if !strings.Contains(st.Hub.LastError, "401") {
		t.Errorf("status last error %q does not mention 401", st.Hub.LastError)
	}
	if !strings.Contains(v.logs.String(), "hub refuses this edge's credential") {
		t.Errorf("edge log does not say it was refused:\n%s", v.logs.String())
	}
	if st.Outbox.PendingPoints < 49 {
		t.Errorf("pending points %d, want the 49 sent after revocation kept", st.Outbox.PendingPoints)
	}
	if got := v.latest("f/m")["f/m/n"]; got != float64(1) {
		t.Errorf("revoked edge's data reached storage: latest %v", got)
	}

	// The operator enrolls the edge again with a new token: everything it
	// buffered while refused arrives.
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	_, token, err := v.hub.CreateEdge(t.Context(), "test-edge-again")
	if err != nil {
		t.Fatal(err)
	}
	v.cfg.EnrollToken = token
	v.startEdge()
	eventually(t, "the buffered values at the hub", func() bool { return v.latest("f/m")["f/m/n"] == float64(50) })
	if n := v.count("f/m/n"); n != 50 {
		t.Errorf("hub stored %d values of f/m/n, want 50", n)
	}

	// Secrets never reach the log.
	cred, err := os.ReadFile(filepath.Join(v.cfg.DataDir, "credential.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(cred, &c); err != nil || c.Key == "" {
		t.Fatalf("credential file: %v", err)
	}
	for _, secret := range []string{c.Key, token, v.admin} {
		if strings.Contains(v.logs.String(), secret) {
			t.Errorf("a secret (%.8s…) appears in the edge's log", secret)
		}
	}

	// A wrong credential gets a 401 too.
	req, _ = http.NewRequest("POST", v.hub.URL()+"/api/v1/uplink", strings.NewReader("x"))
	req.Header.Set("Authorization", "Bearer mlc_wrong")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong credential: %d, want 401", resp.StatusCode)
	}
}

// refusingHub stands in front of a real hub and answers 422 to any uplink
// batch holding a point of the poison series, as a hub would for data it
// cannot accept; everything else goes through.
func refusingHub(t *testing.T, hubURL, poison string) string {
	t.Helper()
	target, _ := url.Parse(hubURL)
	rp := httputil.NewSingleHostReverseProxy(target)
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dec.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/uplink" {
			body, _ := io.ReadAll(r.Body)
			raw, err := dec.DecodeAll(body, nil)
			if err != nil {
				t.Errorf("proxy: %v", err)
			}
			b, err := uplink.DecodeBatch(raw)
			if err != nil {
				t.Errorf("proxy: %v", err)
			}
			for _, rec := range b.Records {
				pts, _ := uplink.DecodePoints(nil, rec.Data)
				for _, p := range pts {
					if p.Series == poison {
						w.WriteHeader(http.StatusUnprocessableEntity)
						fmt.Fprintf(w, `{"error": "%s is refused"}`, poison)
						return
					}
				}
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRecordsTheHubRefusesAreDeadLetteredAndTheRestFlows(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	// Buffer the messages while the edge cannot reach any hub, so that good
	// and poisoned records travel in one batch.
	v.cfg.HubURL = "http://127.0.0.1:1" // nothing listens there
	v.startEdge()
	dev := v.device(4)
	for i := 1; i <= 20; i++ {
		publish(t, dev, "f/m/good", []byte(fmt.Sprint(i)))
		if i%5 == 0 {
			publish(t, dev, "f/m/poison", []byte(fmt.Sprint(i)))
		}
	}
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	v.cfg.HubURL = refusingHub(t, v.hub.URL(), "f/m/poison")
	v.startEdge()
	eventually(t, "the good values at the hub", func() bool { return v.count("f/m/good") == 20 })
	eventually(t, "the outbox to drain", func() bool { return v.edge.Status().Outbox.PendingRecords == 0 })
	st := v.edge.Status()
	if st.Forward.DeadLetterRecords != 4 || st.Forward.DeadLetterPoints != 4 {
		t.Errorf("dead-lettered %d records, %d points; want 4, 4", st.Forward.DeadLetterRecords, st.Forward.DeadLetterPoints)
	}
	files, _ := filepath.Glob(filepath.Join(v.cfg.DataDir, "deadletter", "*.json"))
	if len(files) != 4 {
		t.Fatalf("dead-letter files: %v, want 4", files)
	}
	b, _ := os.ReadFile(files[0])
	if !strings.Contains(string(b), `"series": "f/m/poison"`) || !strings.Contains(string(b), "is refused") {
		t.Errorf("dead-letter file lacks the point or the hub's reason:\n%s", b)
	}
	if n := v.count("f/m/poison"); n != 0 {
		t.Errorf("hub stored %d poison points", n)
	}
}

func TestPipelineRunsAndReloads(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "pipeline.yaml")
	write := func(spec string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(spec), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`pipelines:
  - name: rbe
    match: "f/m/temp"
    stages:
      - deadband: {absolute: 10}
`)
	v.cfg.PipelineFile = file
	v.startEdge()
	dev := v.device(4)
	for _, x := range []string{"1", "2", "50", "51"} {
		publish(t, dev, "f/m/temp", []byte(x))
	}
	publish(t, dev, "f/m/other", []byte("7")) // no pipeline takes it: passes unchanged
	eventually(t, "the reported values at the hub", func() bool {
		return v.count("f/m/temp") == 2 && v.count("f/m/other") == 1
	})

	// A file that does not load leaves the running pipeline in place.
	write("pipelines:\n  - match: f/m/temp\n    stages:\n      - deadband: {absolute: -1}\n")
	eventually(t, "the load error in the status", func() bool {
		st := v.edge.Status()
		return st.Pipeline != nil && strings.Contains(st.Pipeline.LoadError, "absolute")
	})
	publish(t, dev, "f/m/temp", []byte("52")) // still within the deadband of 50
	// A valid change takes effect without a restart.
	loaded := v.edge.Status().Pipeline.LoadedAt
	write("pipelines:\n  - name: all\n    match: f/m/temp\n    stages: []\n")
	eventually(t, "the reload", func() bool { return v.edge.Status().Pipeline.LoadedAt.After(loaded) })
	publish(t, dev, "f/m/temp", []byte("53"))
	publish(t, dev, "f/m/temp", []byte("54"))
	eventually(t, "the values after the reload", func() bool { return v.count("f/m/temp") == 4 })
	// The hub stores before it answers, so the outbox may still hold the
	// last batch for a moment.
	eventually(t, "the outbox to drain", func() bool { return v.edge.Status().Outbox.PendingRecords == 0 })
	if st := v.edge.Status(); st.Pipeline.LoadError != "" {
		t.Errorf("after reload: load error %q", st.Pipeline.LoadError)
	}
}

func TestPipelineEventsReachTheHub(t *testing.T) {
	v := start(t)
	v.restartWithPipeline("pipelines:\n  - name: states\n    match: \"f/+/state\"\n    stages:\n      - state: {}\n")
	dev := v.device(4)
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	for i, st := range []string{"running", "down", "running"} {
		publish(t, dev, "f/m/state", fmt.Appendf(nil, `{"value": %q, "ts": %d}`, st, t0+int64(i)*60_000))
	}
	var out hubEvents
	eventually(t, "the downtime event at the hub", func() bool {
		v.getJSON("/api/v1/events?asset=f/m&kind=downtime&from=-2h", &out)
		return len(out.Events) == 1
	})
	e := out.Events[0]
	if e.Asset != "f/m" || e.Start != t0+60_000 || e.End != t0+120_000 {
		t.Errorf("downtime event %+v, want f/m from %d to %d", e, t0+60_000, t0+120_000)
	}
	v.getJSON("/api/v1/events?asset=f/m&kind=state&from=-2h", &out)
	if len(out.Events) != 2 {
		t.Errorf("state events %+v, want the two closed intervals", out.Events)
	}
}

func TestModbusInputReachesTheHub(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	var n atomic.Uint32
	addr, err := modbustest.ServeFactory(t.Context(), "127.0.0.1:0", func() map[uint16]uint16 {
		c := uint16(n.Add(1))
		return map[uint16]uint16{0: 215, 1: c} // temperature ×10, a counter
	})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "inputs.yaml")
	spec := fmt.Sprintf(`inputs:
  - modbus:
      url: tcp://%s
      poll_interval: 100ms
      registers:
        - {path: f/plc/temp_c, address: 0, type: int16, scale: 0.1}
        - {path: f/plc/count, address: 1, type: uint16}
`, addr)
	if err := os.WriteFile(file, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	v.cfg.InputsFile = file
	v.startEdge()
	eventually(t, "the PLC's values at the hub", func() bool {
		l := v.latest("f/plc")
		return l["f/plc/temp_c"] == 21.5 && l["f/plc/count"] != nil
	})
	st := v.edge.Status()
	if len(st.Inputs) != 1 || st.Inputs[0].State != "connected" || st.Inputs[0].Points == 0 || st.Inputs[0].Kind != "modbus" {
		t.Errorf("input status %+v, want one connected modbus input with points", st.Inputs)
	}

	// A bad inputs file is a start-up error naming the place.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("inputs:\n  - modbus: {url: tcp://x:1, unit_id: 300, registers: [{path: a/b, address: 0}]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := v.cfg
	cfg.InputsFile, cfg.DataDir = bad, t.TempDir()
	if _, err := edge.Start(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "inputs[0].modbus.unit_id") {
		t.Errorf("bad inputs file: %v, want an error naming inputs[0].modbus.unit_id", err)
	}
}

// scrape reads the edge's /metrics into a map from series (name and
// labels, as printed) to value.
func (v *env) scrape() map[string]float64 {
	v.t.Helper()
	resp, err := http.Get("http://" + v.edge.StatusAddr() + "/metrics")
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatal(err)
	}
	// Every series carries the edge's ID once it is enrolled; the map's
	// keys leave it out (TestMetricsCarryTheEdgesIdentity checks it).
	m := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		f, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			v.t.Fatalf("/metrics line %q: %v", line, err)
		}
		series := line[:i]
		if !strings.HasPrefix(series, "molen_edge_info") {
			series = strings.NewReplacer("{,", "{", ",}", "}", "{}", "").Replace(edgeLabel.ReplaceAllString(series, ""))
		}
		m[series] = f
	}
	return m
}

// edgeLabel is the label edge of a series on /metrics.
var edgeLabel = regexp.MustCompile(`edge="[^"]*",?`)

// TestMetricsCarryTheEdgesIdentity: once enrolled, every series of the
// edge's /metrics has the label edge (checked by scrape), and
// molen_edge_info names its organisation.
func TestMetricsCarryTheEdgesIdentity(t *testing.T) {
	v := start(t)
	eventually(t, "the edge enrolled", func() bool { return v.edge.Status().Edge.ID != "" })
	st := v.edge.Status()
	resp, err := http.Get("http://" + v.edge.StatusAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	series := 0
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		series++
		if !strings.Contains(line, fmt.Sprintf("edge=%q", st.Edge.ID)) {
			t.Errorf("/metrics line %q lacks the edge's ID", line)
		}
	}
	if series < 50 {
		t.Errorf("/metrics has %d series, want the edge's many", series)
	}
	m := v.scrape()
	info := fmt.Sprintf("molen_edge_info{edge=%q,hub=%q,name=%q,org=%q,version=%q}", st.Edge.ID, v.cfg.HubURL, st.Edge.Name, st.Edge.Org, v.cfg.Version)
	if m[info] != 1 {
		t.Errorf("/metrics lacks %s 1: %v", info, m)
	}
}

// TestStatusWhileTheHubIsAway checks what the status and /metrics say
// about data waiting for the hub: pending records, points and bytes, the
// age of the oldest, drops by reason, and no contact.
func TestStatusWhileTheHubIsAway(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	v.cfg.HubURL = "http://127.0.0.1:1" // nothing listens there
	v.cfg.Outbox = outbox.Options{MaxBytes: 16 << 10, SegmentBytes: 4 << 10}
	v.startEdge()
	dev := v.device(4)
	const sent = 400
	for i := range sent {
		publish(t, dev, "f/m/n", []byte(fmt.Sprint(i)))
	}
	st := v.edge.Status()
	o := st.Outbox
	if o.PendingRecords == 0 || o.PendingPoints != o.PendingRecords || o.PendingBytes <= o.PendingRecords || o.OldestPendingSeconds <= 0 {
		t.Errorf("outbox status %+v: want records pending, one point each, their bytes and age", o)
	}
	if o.DroppedPoints["full"] == 0 || o.PendingPoints+o.DroppedPoints["full"] != sent {
		t.Errorf("pending %d + dropped (full) %d points, want %d, some dropped", o.PendingPoints, o.DroppedPoints["full"], sent)
	}
	if st.Hub.LastContact != nil || st.Forward.PointsPerSecond != 0 {
		t.Errorf("hub contact %v, %v points/s; want none", st.Hub.LastContact, st.Forward.PointsPerSecond)
	}
	m := v.scrape()
	for name, want := range map[string]float64{
		"molen_edge_outbox_pending_records":                        float64(o.PendingRecords),
		"molen_edge_outbox_pending_points":                         float64(o.PendingPoints),
		"molen_edge_outbox_pending_bytes":                          float64(o.PendingBytes),
		`molen_edge_dropped_points_total{reason="full"}`:           float64(o.DroppedPoints["full"]),
		`molen_edge_dropped_points_total{reason="age"}`:            0,
		`molen_edge_dropped_points_total{reason="corrupt"}`:        0,
		"molen_edge_outbox_rejected_appends_total":                 0,
		"molen_edge_hub_last_contact_timestamp_seconds":            0,
		"molen_edge_forward_points_per_second":                     0,
		"molen_edge_forward_records_per_second":                    0,
		"molen_edge_points_accepted_total":                         sent,
		"molen_edge_mqtt_clients":                                  1,
		`molen_edge_messages_refused_total{reason="full"}`:         0,
		"molen_edge_resends_skipped_total":                         0,
		`molen_edge_forward_errors_total{kind="unauthorized"}`:     0,
		`molen_edge_messages_rejected_total{reason="not_json"}`:    0,
		`molen_edge_messages_rejected_total{reason="oversized"}`:   0,
		`molen_edge_messages_rejected_total{reason="bad_quality"}`: 0,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("/metrics %s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if age := m["molen_edge_outbox_oldest_pending_seconds"]; age < o.OldestPendingSeconds {
		t.Errorf("/metrics oldest pending %vs, status said %vs before", age, o.OldestPendingSeconds)
	}
}

// TestStatusShowsTheSendRate checks the forwarding rates and the last
// contact with the hub, in the status and on /metrics.
func TestStatusShowsTheSendRate(t *testing.T) {
	v := start(t)
	// The messages wait in the outbox while the hub is out of reach, so
	// that they reach it in one batch, however long publishing takes.
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	hubURL := v.cfg.HubURL
	v.cfg.HubURL = "http://127.0.0.1:1" // nothing listens there
	v.startEdge()
	dev := v.device(4)
	const sent = 50
	for i := range sent {
		publish(t, dev, "f/m/r", []byte(fmt.Sprint(i)))
	}
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	v.cfg.HubURL = hubURL
	before := time.Now()
	v.startEdge()
	eventually(t, "the points at the hub", func() bool {
		return v.count("f/m/r") == sent && v.edge.Status().Outbox.PendingRecords == 0
	})
	// One record of one point per message, all in one batch: 5/s each for
	// the ten seconds after the second of that batch.
	eventually(t, "the rates", func() bool {
		st := v.edge.Status()
		m := v.scrape()
		return st.Forward.PointsPerSecond == sent/10 && st.Forward.RecordsPerSecond == sent/10 &&
			m["molen_edge_forward_points_per_second"] == sent/10 && m["molen_edge_forward_records_per_second"] == sent/10
	})
	st := v.edge.Status()
	m := v.scrape()
	if st.Forward.Points != sent || m["molen_edge_forwarded_points_total"] != sent || m["molen_edge_forwarded_records_total"] != sent {
		t.Errorf("forwarded points: status %d, /metrics %v points and %v records; want %d",
			st.Forward.Points, m["molen_edge_forwarded_points_total"], m["molen_edge_forwarded_records_total"], sent)
	}
	if st.Hub.LastContact == nil || st.Hub.LastContact.Before(before) {
		t.Fatalf("status last contact %v, want one after %v", st.Hub.LastContact, before)
	}
	if got, want := m["molen_edge_hub_last_contact_timestamp_seconds"], float64(st.Hub.LastContact.UnixNano())/1e9; got != want {
		t.Errorf("/metrics last contact %v, status %v", got, want)
	}
}

// TestCloseLeavesNoDeviceHanging closes edges while devices keep
// connecting: every connection the edge accepted must be answered or
// closed, so that no device waits for a CONNACK that never comes (paho
// waits 30 s before it tries again).
func TestCloseLeavesNoDeviceHanging(t *testing.T) {
	var connect bytes.Buffer
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: 4,
		Connect:         packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 60},
	}
	if err := pk.ConnectEncode(&connect); err != nil {
		t.Fatal(err)
	}
	disconnect := []byte{0xe0, 0x00} // DISCONNECT
	const rounds, devices, churners = 20, 3, 3
	for round := range rounds {
		// No hub listens there: this test is about the device listener.
		e, err := edge.Start(t.Context(), edge.Config{DataDir: t.TempDir(), MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0",
			HubURL: "http://127.0.0.1:1", EnrollToken: "mle_unused"})
		if err != nil {
			t.Fatal(err)
		}
		addr := e.MQTTAddr()
		var wg sync.WaitGroup
		// Devices that connect and disconnect at once, over and over: the
		// edge removes their sessions while it disconnects the others.
		for range churners {
			wg.Go(func() {
				for {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						return
					}
					c.SetDeadline(time.Now().Add(patience))
					if _, err = c.Write(connect.Bytes()); err == nil {
						if _, err = c.Read(make([]byte, 4)); err == nil {
							_, err = c.Write(disconnect)
						}
					}
					c.Close()
					if errors.Is(err, os.ErrDeadlineExceeded) {
						t.Errorf("round %d: a connection made while the edge closed was neither served nor closed", round)
						return
					}
				}
			})
		}
		served := make(chan struct{}, devices)
		for range devices {
			wg.Go(func() {
				first := true
				// Until the edge no longer accepts connections.
				for {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						return
					}
					// Generous: a served connection ends as soon as the
					// edge closes.
					c.SetDeadline(time.Now().Add(patience))
					_, err = c.Write(connect.Bytes())
					for err == nil {
						_, err = c.Read(make([]byte, 64))
						if err == nil && first {
							first = false
							served <- struct{}{}
						}
					}
					c.Close()
					if errors.Is(err, os.ErrDeadlineExceeded) {
						t.Errorf("round %d: a connection made while the edge closed was neither served nor closed", round)
						return
					}
				}
			})
		}
		// Close once every device has been served, with connections still
		// coming in.
		for range devices {
			<-served
		}
		closed := make(chan error, 1)
		go func() { closed <- e.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(patience):
			var stacks bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			t.Fatalf("round %d: Close did not return in %v while devices came and went:\n%s", round, patience, stacks.String())
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
}

// TestRejectionsAreLoggedRateLimited: bad messages coming at a device's
// rate are each counted, but logged once per reason per interval, with the
// number left out since, on MQTT 3.1.1 and 5 alike; no line holds the
// payload.
func TestRejectionsAreLoggedRateLimited(t *testing.T) {
	v := start(t)
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	edge.SetLogClock(v.edge, func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	})
	dev3, dev5 := v.device(4), v.device5(paho5.ClientConfig{ClientID: "bad5"})
	junk := bytes.Repeat([]byte("junk "), 1000)
	const n = 50
	for range n {
		publish(t, dev3, "f/m/temp", junk)
		if code := publish5(t, dev5, "f/m/temp", junk); code != 0x99 {
			t.Fatalf("MQTT 5 reason code %#x, want 0x99", code)
		}
		if code := publish5(t, dev5, "f/m/temp", []byte(`{"value": NaN}`)); code != 0x99 {
			t.Fatalf("MQTT 5 reason code %#x, want 0x99", code)
		}
	}
	st := v.edge.Status()
	if st.Ingest.Rejected[uns.ReasonNotJSON] != 2*n || st.Ingest.Rejected[uns.ReasonNonFinite] != n {
		t.Errorf("rejected %v, want %d not_json and %d non_finite", st.Ingest.Rejected, 2*n, n)
	}
	lines := func(reason string) []string {
		var out []string
		for line := range strings.Lines(v.logs.String()) {
			if strings.Contains(line, `msg="device message rejected"`) && strings.Contains(line, "reason="+reason) {
				out = append(out, line)
			}
		}
		return out
	}
	if got := lines(uns.ReasonNotJSON); len(got) != 1 || !strings.Contains(got[0], "client=dev-4-") || !strings.Contains(got[0], "remote=127.0.0.1:") {
		t.Errorf("not_json lines %q, want one naming the first device and its address", got)
	}
	if got := lines(uns.ReasonNonFinite); len(got) != 1 || !strings.Contains(got[0], "client=bad5") {
		t.Errorf("non_finite lines %q, want one naming bad5", got)
	}
	if log := v.logs.String(); strings.Contains(log, "level=ERROR") || strings.Contains(log, strings.Repeat("junk ", 10)) {
		t.Errorf("log has error lines or payloads:\n%.2000s", log)
	}

	// Later, the next rejection is logged again, with how many were not.
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	publish(t, dev3, "f/m/temp", junk)
	if got := lines(uns.ReasonNotJSON); len(got) != 2 || !strings.Contains(got[1], fmt.Sprintf("suppressed=%d", 2*n-1)) {
		t.Errorf("not_json lines after an hour %q, want a second one with suppressed=%d", got, 2*n-1)
	}
}

// TestSysTopicIsRefused: mochi drops a publish to a $SYS topic before the
// edge sees it; the edge answers it, so that the device does not wait for
// an acknowledgement forever, and counts and logs it as a topic that is
// not a UNS path.
func TestSysTopicIsRefused(t *testing.T) {
	v := start(t)
	dev3, dev5 := v.device(4), v.device5(paho5.ClientConfig{ClientID: "sys5"})
	for _, qos := range []byte{1, 2} {
		tok := dev3.Publish("$SYS/broker/load", qos, false, []byte("1"))
		if !tok.WaitTimeout(patience) || tok.Error() != nil {
			t.Fatalf("MQTT 3.1.1 QoS %d publish to $SYS: %v (want an acknowledgement)", qos, tok.Error())
		}
	}
	if code := publish5(t, dev5, "$SYS/broker/load", []byte("1")); code != 0x90 {
		t.Errorf("MQTT 5 publish to $SYS: reason code %#x, want 0x90 (topic name invalid)", code)
	}
	// The devices go on as before.
	publish(t, dev3, "f/m/ok", []byte("1"))
	if code := publish5(t, dev5, "f/m/ok", []byte("2")); code != 0 {
		t.Errorf("MQTT 5 good publish after $SYS: reason code %#x", code)
	}
	st := v.edge.Status()
	if st.Ingest.Rejected[uns.ReasonInvalidPath] != 3 || st.Ingest.Messages != 5 || st.Ingest.Points != 2 {
		t.Errorf("status: rejected %v, %d messages, %d points; want 3 invalid_path of 5 messages, 2 points",
			st.Ingest.Rejected, st.Ingest.Messages, st.Ingest.Points)
	}
	if r := st.Ingest.LastRejects[0]; r.Topic != "$SYS/broker/load" || r.Client != "sys5" {
		t.Errorf("last reject %+v, want the $SYS publish of sys5", r)
	}
	if log := v.logs.String(); !strings.Contains(log, `reason=invalid_path client=dev-4-`) || !strings.Contains(log, "topic=$SYS/broker/load") {
		t.Errorf("log does not name the device and the topic:\n%s", log)
	}
}

// TestInvalidTopicsAreCounted: a topic MQTT does not allow in a publish
// makes the listener close the connection, as MQTT requires; each is
// counted and logged, naming the device, so that an operator can find it.
func TestInvalidTopicsAreCounted(t *testing.T) {
	v := start(t)
	edge.SetLogClock(v.edge, func() time.Time { return time.Unix(1_800_000_000, 0) })
	topics := []string{"f/+/temp", "f/m/#", "", "f/\xff/temp", "f/m\x00/temp"}
	for i, topic := range topics {
		// Clean session and no reconnect: paho fails the publish when the
		// connection is lost.
		c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + v.edge.MQTTAddr()).
			SetClientID(fmt.Sprintf("bad-topic-%d", i)).SetAutoReconnect(false))
		if tok := c.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		tok := c.Publish(topic, 1, false, []byte("1"))
		if !tok.WaitTimeout(patience) || tok.Error() == nil {
			t.Errorf("publish to %q: %v; want the connection closed", topic, tok.Error())
		}
		c.Disconnect(0)
	}
	// An MQTT 5 device is told why: DISCONNECT with 0x82 (protocol error).
	disconnected := make(chan *paho5.Disconnect, 1)
	dev5 := v.device5(paho5.ClientConfig{ClientID: "bad-topic-5", OnServerDisconnect: func(d *paho5.Disconnect) { disconnected <- d }})
	if _, err := dev5.PublishWithOptions(t.Context(), &paho5.Publish{Topic: "f/+/temp", QoS: 1, Payload: []byte("1")},
		paho5.PublishOptions{Method: paho5.PublishMethod_AsyncSend}); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-disconnected:
		if d.ReasonCode != 0x82 {
			t.Errorf("MQTT 5 publish to a wildcard: DISCONNECT %#x, want 0x82", d.ReasonCode)
		}
	case <-time.After(patience):
		t.Fatalf("MQTT 5 publish to a wildcard: no DISCONNECT in %v", patience)
	}
	want := int64(len(topics) + 1)
	// The listener counts a topic it cannot decode once it has closed the
	// connection, which the device may notice first.
	eventually(t, fmt.Sprintf("%d invalid topics counted", want), func() bool {
		return v.edge.Status().Ingest.Rejected["invalid_topic"] == want
	})
	st := v.edge.Status()
	if st.Ingest.Messages != want || st.Ingest.Points != 0 {
		t.Errorf("%d messages, %d points; want %d, 0", st.Ingest.Messages, st.Ingest.Points, want)
	}
	clients := map[string]string{}
	for _, r := range st.Ingest.LastRejects {
		clients[r.Client] = r.Topic
	}
	if clients["bad-topic-0"] != "f/+/temp" || clients["bad-topic-5"] != "f/+/temp" || len(clients) != int(want) {
		t.Errorf("kept rejections by client: %q, want the topic of each of the %d devices", clients, want)
	}
	m := v.scrape()
	if got := m[`molen_edge_messages_rejected_total{reason="invalid_topic"}`]; got != float64(want) {
		t.Errorf("/metrics invalid_topic = %v, want %d", got, want)
	}
	// One line for them all (the clock stands still), naming the first
	// device; mochi's own lines about them are left out.
	log := v.logs.String()
	if n := strings.Count(log, "reason=invalid_topic"); n != 1 || !strings.Contains(log, "reason=invalid_topic client=bad-topic-0 remote=127.0.0.1:") {
		t.Errorf("%d invalid_topic lines, want one naming bad-topic-0 and its address:\n%s", n, log)
	}
	if strings.Contains(log, "component=mqtt") {
		t.Errorf("the listener's own lines are in the log:\n%s", log)
	}
	// Other devices go on as before.
	publish(t, v.device(4), "f/m/ok", []byte("1"))
}

// TestTextTopics: on topics configured for plain text, a payload that is
// not JSON is a string value; elsewhere, and for what looks like broken
// JSON, it is rejected.
func TestTextTopics(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	v.cfg.MQTTTextTopics = []string{"f/+/state", "g/#"}
	v.startEdge()
	dev := v.device(4)
	for topic, payload := range map[string]string{
		"f/m/state":   "running\n",
		"f/n/state":   "42",
		"g/line/mode": "Auto 2",
		"f/m/temp":    "warm",        // not a text topic
		"f/o/state":   `{"value": 1`, // broken JSON stays broken
	} {
		publish(t, dev, topic, []byte(payload))
	}
	eventually(t, "the text values at the hub", func() bool {
		f, g := v.latest("f"), v.latest("g")
		return f["f/m/state"] == "running" && f["f/n/state"] == float64(42) && g["g/line/mode"] == "Auto 2"
	})
	st := v.edge.Status()
	if st.Ingest.Points != 3 || st.Ingest.Rejected[uns.ReasonNotJSON] != 2 {
		t.Errorf("%d points, rejected %v; want 3 points and 2 not_json", st.Ingest.Points, st.Ingest.Rejected)
	}

	cfg := v.cfg
	cfg.DataDir, cfg.MQTTTextTopics = t.TempDir(), []string{"f/#/state"}
	if _, err := edge.Start(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "edge.mqtt_text_topics[0]") {
		t.Errorf("bad text topic filter: %v, want an error naming edge.mqtt_text_topics[0]", err)
	}
}

// switchHub stands in front of a real hub. Down, it closes every
// connection without passing the request on (the hub stores nothing);
// with loseAnswers > 0 it passes an uplink request on and closes the
// connection instead of answering (the hub stored it, the edge does not
// know), and goes down at that moment when downAfterLoss is set (so that
// the edge cannot send the batch again before the outage). It counts the
// uplink requests it refused and those without records (the edge asking
// for the hub's watermark).
type switchHub struct {
	url           string
	down          atomic.Bool
	loseAnswers   atomic.Int64
	downAfterLoss atomic.Bool
	refused       atomic.Int64
	probes        atomic.Int64
}

func newSwitchHub(t *testing.T, hubURL string) *switchHub {
	t.Helper()
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dec.Close)
	sw := &switchHub{}
	hangUp := func(w http.ResponseWriter) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("switch hub: hijack: %v", err)
			return
		}
		c.Close()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sw.down.Load() {
			if r.URL.Path == "/api/v1/uplink" {
				sw.refused.Add(1)
			}
			hangUp(w)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if r.URL.Path == "/api/v1/uplink" {
			if raw, err := dec.DecodeAll(body, nil); err == nil {
				if b, err := uplink.DecodeBatch(raw); err == nil && len(b.Records) == 0 {
					sw.probes.Add(1)
				}
			}
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, hubURL+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			t.Errorf("switch hub: %v", err)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			hangUp(w)
			return
		}
		defer resp.Body.Close()
		if r.URL.Path == "/api/v1/uplink" && sw.loseAnswers.Load() > 0 && sw.loseAnswers.Add(-1) >= 0 {
			if sw.downAfterLoss.Load() {
				sw.down.Store(true)
			}
			hangUp(w)
			return
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	sw.url = srv.URL
	return sw
}

// TestDropsInFlightAreCountedExactly fills a small drop-oldest outbox
// while the hub is out of reach, so that the outbox drops records the
// forwarder holds in a batch that does not get through (and, in one
// variant, that an earlier attempt did store although its answer was
// lost). Once the hub is back, the forwarder asks it how far it has stored
// before it sends anything else; the points missing at the hub are then
// exactly the points the edge counts as dropped.
func TestDropsInFlightAreCountedExactly(t *testing.T) {
	for _, tt := range []struct {
		name      string
		firstLost bool // the hub stores the first batch, its answer is lost
	}{
		{"the batch never reached the hub", false},
		{"the hub stored the batch, its answer was lost", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := start(t)
			eventually(t, "enrollment", func() bool { return v.edge.Status().Edge.Enrolled })
			if err := v.edge.Close(); err != nil {
				t.Fatal(err)
			}
			sw := newSwitchHub(t, v.hub.URL())
			v.cfg.HubURL = sw.url
			v.cfg.Outbox = outbox.Options{MaxBytes: 16 << 10, SegmentBytes: 4 << 10}
			if tt.firstLost {
				sw.loseAnswers.Store(1)
				sw.downAfterLoss.Store(true)
			} else {
				sw.down.Store(true)
			}
			v.startEdge()
			dev := v.device(4)

			// The forwarder takes the first message in a batch that does
			// not come back; then the hub is out of reach while the rest
			// overflows the outbox and drops the oldest records, the first
			// one among them.
			publish(t, dev, "f/m/n", []byte("0"))
			if tt.firstLost {
				eventually(t, "the hub to store the first batch", func() bool { return v.count("f/m/n") == 1 })
			} else {
				eventually(t, "the forwarder to send the first batch", func() bool { return sw.refused.Load() > 0 })
			}
			const n = 1000
			for i := 1; i < n; i++ {
				publish(t, dev, "f/m/n", []byte(fmt.Sprint(i)))
			}
			if st := v.edge.Status(); st.Outbox.PendingPoints+st.Outbox.DroppedPoints["full"] >= n {
				t.Fatalf("the outbox dropped nothing from the forwarder's hands: %d pending, %d counted as dropped of %d", st.Outbox.PendingPoints, st.Outbox.DroppedPoints["full"], n)
			}

			sw.down.Store(false)
			eventually(t, "the outbox to drain", func() bool { return v.edge.Status().Outbox.PendingRecords == 0 })
			stored, dropped := int64(v.count("f/m/n")), v.edge.Status().Outbox.DroppedPoints["full"]
			if stored+dropped != n || dropped == 0 {
				t.Errorf("%d points at the hub, %d counted as dropped: %d of %d not accounted for", stored, dropped, n-stored-dropped, n)
			}
			if sw.probes.Load() == 0 {
				t.Errorf("the forwarder never asked the hub for its watermark")
			}
		})
	}
}
