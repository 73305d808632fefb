package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/notify/sink"
)

// BenchmarkNotifyLatency measures a notification's latency from the alarm
// at the edge to the message leaving the hub: a device publishes a
// pressure above the limit of the edge's alarm operator (QoS 1, with the
// wall clock as its timestamp); the edge raises the alarm, stores it and
// forwards it; the hub stores it and sends a signed Teams-format webhook
// to a receiver in this process, which notes when it arrives. Then the
// device publishes a normal pressure (the alarm clears, which sends
// nothing), and the next iteration raises the next alarm. Reported: the
// median, p99 and maximum over b.N alarms, with the hub and edge on
// embedded storage on this machine.
func BenchmarkNotifyLatency(b *testing.B) {
	ctx := b.Context()
	h, err := hub.Start(ctx, hub.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0", Out: io.Discard, NotifyPrivateTargets: true})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	hooks := sink.NewWebhook("")
	recv := httptest.NewServer(hooks)
	defer recv.Close()
	admin, err := h.AdminToken()
	if err != nil {
		b.Fatal(err)
	}
	var ch struct{ ID, Secret string }
	post(b, h.URL(), admin, "/api/v1/notify/channels", `{"name":"teams","kind":"webhook","format":"teams","target":"`+recv.URL+`"}`, &ch)
	hooks.SetKey(ch.Secret)
	post(b, h.URL(), admin, "/api/v1/notify/rules", `{"name":"pressure","trigger":"alarm","prefix":"site","channel":"`+ch.ID+`"}`, nil)

	_, token, err := h.CreateEdge(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	pipe := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(pipe, []byte(`pipelines:
  - name: alarms
    match: ["site/+/+/+/pressure_bar"]
    stages:
      - alarm: {limits: [{name: pressure_high, high: 8}], deadband: 0.5}
    output: forward
`), 0o600); err != nil {
		b.Fatal(err)
	}
	e, err := edge.Start(ctx, edge.Config{DataDir: filepath.Join(dir, "edge"), MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0",
		HubURL: h.URL(), EnrollToken: token, PipelineFile: pipe, MQTTAnonymous: true})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	dev := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + e.MQTTAddr()).SetClientID("bench-device"))
	if tok := dev.Connect(); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		b.Fatalf("device: %v", tok.Error())
	}
	defer dev.Disconnect(100)
	publish := func(v float64) time.Time {
		at := time.Now()
		tok := dev.Publish("site/hall/line-1/compressor/pressure_bar", 1, false, fmt.Sprintf(`{"value":%g,"ts":%d}`, v, at.UnixMilli()))
		if !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
			b.Fatalf("publish: %v", tok.Error())
		}
		return at
	}
	publish(7) // the series exists, below the limit
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		at := publish(9 + float64(i%10)/100)
		hk := <-hooks.C
		lat = append(lat, time.Since(at))
		if !hk.Verified || !strings.Contains(string(hk.Body), "pressure_high") {
			b.Fatalf("message: verified %v: %s", hk.Verified, hk.Body)
		}
		publish(7)
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))].Seconds() * 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(lat[len(lat)-1].Seconds()*1000, "max-ms")
}

// post sends body to path with token and decodes the answer into out.
func post(tb testing.TB, base, token, path, body string, out any) {
	tb.Helper()
	req, err := http.NewRequest("POST", base+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("POST %s: %s: %s", path, resp.Status, b)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			tb.Fatal(err)
		}
	}
}
