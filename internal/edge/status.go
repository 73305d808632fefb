package edge

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/molen-io/molen/internal/output"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// rejectReasons are the reasons device messages are rejected for: the
// decoder's and the listener's.
var rejectReasons = append(slices.Clip(uns.Reasons), reasonInvalidTopic, reasonMalformedPacket)

// metrics are the edge's Prometheus metrics, on a registry of its own so
// several edges can live in one process (tests, the demo).
type metrics struct {
	reg              *prometheus.Registry
	messages         prometheus.Counter
	points           prometheus.Counter
	resendsSkipped   prometheus.Counter
	rejected         *prometheus.CounterVec
	refused          *prometheus.CounterVec
	mqttRefused      *prometheus.CounterVec
	forwardedRecords prometheus.Counter
	forwardedPoints  prometheus.Counter
	forwardErrors    *prometheus.CounterVec
	quotaRefused     *prometheus.CounterVec
	forwardSeconds   prometheus.Histogram
	deadRecords      prometheus.Counter
	deadPoints       prometheus.Counter
	derivedLost      prometheus.Counter
	events           prometheus.Counter
	// manifestRefused counts manifests refused (bad digest, lower
	// version, invalid or failing content); manifestRolledBack those
	// rolled back after failing their health window.
	manifestRefused    prometheus.Counter
	manifestRolledBack prometheus.Counter
	// updatesRefused counts update binaries refused (digest, signature,
	// platform).
	updatesRefused prometheus.Counter
	// serviceRefused counts service packages refused (digest,
	// signatures).
	serviceRefused prometheus.Counter
}

func newMetrics(e *Edge) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_edge_messages_received_total", Help: "Device messages received."}),
		points: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_edge_points_accepted_total", Help: "Points accepted into the outbox."}),
		resendsSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_edge_resends_skipped_total", Help: "Device resends of publishes already stored: acknowledged, not stored again."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molen_edge_messages_rejected_total", Help: "Device messages rejected as bad input, by reason."}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molen_edge_messages_refused_total", Help: "Valid device messages not acknowledged because the outbox could not store them (full with reject-new, write error), by reason."}, []string{"reason"}),
		mqttRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molen_edge_mqtt_refused_total", Help: "MQTT connections, publishes and subscriptions the device listener refused, by reason."}, []string{"reason"}),
		forwardedRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_edge_forwarded_records_total", Help: "Outbox records the hub acknowledged."}),
		forwardedPoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_edge_forwarded_points_total", Help: "Points the hub acknowledged."}),
		forwardErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molen_edge_forward_errors_total", Help: "Failed sends to the hub, by kind."}, []string{"kind"}),
		quotaRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molen_edge_quota_refused_points_total", Help: "Points of acknowledged batches that the organisation's quota at the hub refused (dropped, not sent again), by reason (series, points_per_day)."}, []string{"reason"}),
		deadRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_edge_dead_letter_records_total", Help: "Records the hub refused as bad data, kept in <data>/deadletter/."}),
		deadPoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_edge_dead_letter_points_total", Help: "Points in records the hub refused."}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_edge_events_total", Help: "Events the pipeline emitted and the outbox stored."}),
		derivedLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_edge_pipeline_points_lost_total", Help: "Points the pipeline derived on a tick that the outbox refused (full with reject-new, write error)."}),
		serviceRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_edge_service_packages_refused_total", Help: "Service packages refused for their digest or signatures."}),
		manifestRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_edge_manifests_refused_total", Help: "Manifests from the hub refused: a wrong digest, a version not above the last, content that does not load."}),
		manifestRolledBack: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_edge_manifests_rolled_back_total", Help: "Manifests rolled back because the edge was not healthy within the health window."}),
		updatesRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molen_edge_updates_refused_total", Help: "Software update binaries refused: a digest or signature that does not verify, another platform."}),
		forwardSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "molen_edge_forward_seconds", Help: "Time for the hub to store one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}),
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	for _, r := range refusalReasons {
		m.mqttRefused.WithLabelValues(r)
	}
	for _, r := range []string{"series", "points_per_day"} {
		m.quotaRefused.WithLabelValues(r)
	}
	for _, r := range []string{"unauthorized", "refused_batch", "send", "outbox"} {
		m.forwardErrors.WithLabelValues(r)
	}
	ob := e.outbox
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.messages, m.points, m.resendsSkipped, m.rejected, m.refused, m.mqttRefused,
		m.forwardedRecords, m.forwardedPoints, m.forwardErrors, m.quotaRefused, m.forwardSeconds, m.deadRecords, m.deadPoints, m.derivedLost, m.events,
		m.manifestRefused, m.manifestRolledBack, m.updatesRefused, m.serviceRefused, e.outputs,
		gauge("molen_edge_mqtt_clients", "Devices connected to the MQTT listener.",
			func() float64 { return float64(atomic.LoadInt64(&e.mqtt.Info.ClientsConnected)) }),
		gauge("molen_edge_outbox_pending_records", "Outbox records not yet acknowledged by the hub.",
			func() float64 { return float64(ob.Stats().PendingRecords) }),
		gauge("molen_edge_outbox_pending_points", "Points stored locally and not yet acknowledged by the hub.",
			func() float64 { return float64(ob.Stats().PendingPoints) }),
		gauge("molen_edge_outbox_pending_bytes", "Bytes of records not yet acknowledged by the hub.",
			func() float64 { return float64(ob.Stats().PendingBytes) }),
		gauge("molen_edge_outbox_disk_bytes", "Bytes the outbox holds on disk.",
			func() float64 { return float64(ob.Stats().DiskBytes) }),
		gauge("molen_edge_outbox_oldest_pending_seconds", "Age of the oldest point not yet acknowledged by the hub (0 if none).",
			func() float64 { return oldestAge(ob.Stats().OldestPending).Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "molen_edge_outbox_rejected_appends_total", Help: "Appends the outbox refused because it was full with reject-new (device messages and pipeline output)."},
			func() float64 { return float64(ob.Stats().Rejected) }),
		gauge("molen_edge_forward_records_per_second", "Records the hub acknowledged per second, averaged over the last 10 complete seconds.",
			func() float64 {
				r, _ := e.fwdRate.rates(time.Now())
				return r
			}),
		gauge("molen_edge_forward_points_per_second", "Points the hub acknowledged per second, averaged over the last 10 complete seconds.",
			func() float64 {
				_, p := e.fwdRate.rates(time.Now())
				return p
			}),
		gauge("molen_edge_hub_last_contact_timestamp_seconds", "Unix time of the last batch the hub acknowledged (0 if none).",
			func() float64 {
				e.fwd.mu.Lock()
				defer e.fwd.mu.Unlock()
				if e.fwd.lastContact.IsZero() {
					return 0
				}
				return float64(e.fwd.lastContact.UnixNano()) / 1e9
			}),
		newDropCollector(e),
		newInputCollector(e),
		newInfoCollector(e),
	)
	return m
}

// gatherMetrics gathers the edge's metrics, each with the label edge (the
// edge's ID at its hub) once it is enrolled: a Prometheus or an agent that
// gathers many edges' metrics tells them apart by it, whatever its own
// target labels say. Before enrolment there is no ID and no such label.
func (e *Edge) gatherMetrics() ([]*dto.MetricFamily, error) {
	mfs, err := e.metrics.reg.Gather()
	e.fwd.mu.Lock()
	id := e.fwd.identity.EdgeID
	e.fwd.mu.Unlock()
	if id == "" {
		return mfs, err
	}
	name := "edge"
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			if slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == name }) {
				continue // molen_edge_info has it already
			}
			i, _ := slices.BinarySearchFunc(m.Label, name, func(l *dto.LabelPair, n string) int { return strings.Compare(l.GetName(), n) })
			m.Label = slices.Insert(m.Label, i, &dto.LabelPair{Name: &name, Value: &id})
		}
	}
	return mfs, err
}

// infoCollector is molen_edge_info: 1, with the edge's identity and
// version as labels, for joins (on(edge) group_left(org, name)).
type infoCollector struct {
	e    *Edge
	desc *prometheus.Desc
}

func newInfoCollector(e *Edge) *infoCollector {
	return &infoCollector{e: e, desc: prometheus.NewDesc("molen_edge_info",
		"1, with the edge's identity at its hub (empty until enrolled) and its molen version as labels.",
		[]string{"edge", "org", "name", "hub", "version"}, nil)}
}

func (c *infoCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *infoCollector) Collect(ch chan<- prometheus.Metric) {
	c.e.fwd.mu.Lock()
	id := c.e.fwd.identity
	c.e.fwd.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1, id.EdgeID, id.Org, id.Name, id.Hub, c.e.cfg.Version)
}

// dropCollector exposes the outbox's drop counts, which the outbox keeps
// itself (they survive in its state, not in ours).
type dropCollector struct {
	e            *Edge
	points, recs *prometheus.Desc
}

func newDropCollector(e *Edge) *dropCollector {
	return &dropCollector{e: e,
		points: prometheus.NewDesc("molen_edge_dropped_points_total",
			"Points dropped from the outbox by a bound (full: drop-oldest, age: max age) or found corrupt.", []string{"reason"}, nil),
		recs: prometheus.NewDesc("molen_edge_dropped_records_total",
			"Outbox records dropped by a bound or found corrupt (exact even where a damaged record's points are unknown).", []string{"reason"}, nil),
	}
}

func (c *dropCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.points; ch <- c.recs }

func (c *dropCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.e.outbox.Stats()
	for _, r := range []string{"full", "age", "corrupt"} {
		ch <- prometheus.MustNewConstMetric(c.points, prometheus.CounterValue, float64(st.Dropped[r].Points), r)
		ch <- prometheus.MustNewConstMetric(c.recs, prometheus.CounterValue, float64(st.Dropped[r].Records), r)
	}
}

// inputCollector exposes the connector inputs' status counters.
type inputCollector struct {
	e                                   *Edge
	points, connects, rejected, dropped *prometheus.Desc
	connected                           *prometheus.Desc
}

func newInputCollector(e *Edge) *inputCollector {
	l := []string{"input", "kind"}
	return &inputCollector{e: e,
		points:    prometheus.NewDesc("molen_edge_input_points_total", "Points an input wrote to the outbox.", l, nil),
		connects:  prometheus.NewDesc("molen_edge_input_connects_total", "Successful connections of an input, the first included.", l, nil),
		rejected:  prometheus.NewDesc("molen_edge_input_rejected_total", "Bad frames or values an input skipped, by reason.", append(l, "reason"), nil),
		dropped:   prometheus.NewDesc("molen_edge_input_dropped_total", "Values the peer or protocol lost that an input could measure.", l, nil),
		connected: prometheus.NewDesc("molen_edge_input_connected", "1 while an input is connected to its peer.", l, nil),
	}
}

func (c *inputCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.points, c.connects, c.rejected, c.dropped, c.connected} {
		ch <- d
	}
}

func (c *inputCollector) Collect(ch chan<- prometheus.Metric) {
	for _, in := range c.e.inputStatus() {
		ch <- prometheus.MustNewConstMetric(c.points, prometheus.CounterValue, float64(in.Points), in.Input, in.Kind)
		ch <- prometheus.MustNewConstMetric(c.connects, prometheus.CounterValue, float64(in.Connects), in.Input, in.Kind)
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(in.Dropped), in.Input, in.Kind)
		up := 0.0
		if in.State == "connected" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, up, in.Input, in.Kind)
		for reason, n := range in.Rejected {
			ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(n), in.Input, in.Kind, reason)
		}
	}
}

func oldestAge(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return time.Since(t)
}

// Status is the edge's state as the status API shows it.
type Status struct {
	Edge struct {
		ID       string `json:"id,omitempty"`
		Org      string `json:"org,omitempty"`
		Name     string `json:"name,omitempty"`
		Enrolled bool   `json:"enrolled"`
		// Auth is how the edge authenticates at the hub: "key" (signed
		// requests) or "credential" (edges enrolled before edge keys,
		// until they registered one); Key is the key's fingerprint.
		Auth    string    `json:"auth,omitempty"`
		Key     string    `json:"key,omitempty"`
		Started time.Time `json:"started"`
	} `json:"edge"`
	Hub struct {
		URL          string     `json:"url,omitempty"`
		LastContact  *time.Time `json:"last_contact,omitempty"`
		LastError    string     `json:"last_error,omitempty"`
		LastErrorAt  *time.Time `json:"last_error_at,omitempty"`
		Unauthorized bool       `json:"unauthorized"`
	} `json:"hub"`
	MQTT struct {
		Address string `json:"address"`
		Clients int64  `json:"clients"`
		// Devices says whether clients authenticate as devices (a
		// devices file); Refused counts refused connections, publishes
		// and subscriptions by reason.
		Devices bool             `json:"devices"`
		Refused map[string]int64 `json:"refused"`
	} `json:"mqtt"`
	Ingest struct {
		Messages       int64            `json:"messages"`
		Points         int64            `json:"points"`
		ResendsSkipped int64            `json:"resends_skipped"`
		Rejected       map[string]int64 `json:"rejected"`
		Refused        map[string]int64 `json:"refused"`
		LastRejects    []Reject         `json:"last_rejects"`
	} `json:"ingest"`
	Outbox struct {
		ID                   string           `json:"id"`
		PendingRecords       int64            `json:"pending_records"`
		PendingPoints        int64            `json:"pending_points"`
		PendingBytes         int64            `json:"pending_bytes"`
		OldestPendingSeconds float64          `json:"oldest_pending_seconds"`
		DiskBytes            int64            `json:"disk_bytes"`
		DroppedPoints        map[string]int64 `json:"dropped_points"`
		DroppedRecords       map[string]int64 `json:"dropped_records"`
		Rejected             int64            `json:"rejected_appends"`
	} `json:"outbox"`
	Forward struct {
		Records           int64   `json:"records"`
		Points            int64   `json:"points"`
		RecordsPerSecond  float64 `json:"records_per_second"`
		PointsPerSecond   float64 `json:"points_per_second"`
		DeadLetterRecords int64   `json:"dead_letter_records"`
		DeadLetterPoints  int64   `json:"dead_letter_points"`
	} `json:"forward"`
	Pipeline *PipelineStatus `json:"pipeline,omitempty"`
	Inputs   []InputStatus   `json:"inputs,omitempty"`
	// Outputs are the outputs besides the hub (docs/outputs.md).
	Outputs []output.Status `json:"outputs,omitempty"`
	// Desired is the state of the hub's desired state on this edge
	// (docs/fleet.md): the version it runs, the parts and their states.
	Desired uplink.Applied `json:"desired"`
}

// Status returns the edge's current state.
func (e *Edge) Status() Status {
	var s Status
	e.fwd.mu.Lock()
	s.Edge.ID, s.Edge.Org, s.Edge.Name = e.fwd.identity.EdgeID, e.fwd.identity.Org, e.fwd.identity.Name
	s.Edge.Enrolled = e.fwd.enrolled
	if s.Edge.Key = e.fwd.identity.keyFingerprint; s.Edge.Key != "" {
		s.Edge.Auth = "key"
	} else if e.fwd.enrolled {
		s.Edge.Auth = "credential"
	}
	s.Hub.URL = e.fwd.identity.Hub
	if s.Hub.URL == "" {
		s.Hub.URL = e.cfg.HubURL
	}
	if !e.fwd.lastContact.IsZero() {
		t := e.fwd.lastContact.UTC()
		s.Hub.LastContact = &t
	}
	if e.fwd.lastError != "" {
		t := e.fwd.lastErrorAt.UTC()
		s.Hub.LastError, s.Hub.LastErrorAt = e.fwd.lastError, &t
	}
	s.Hub.Unauthorized = e.fwd.unauthorized
	e.fwd.mu.Unlock()
	s.Edge.Started = e.started.UTC()

	s.MQTT.Address = e.MQTTAddr()
	s.MQTT.Clients = atomic.LoadInt64(&e.mqtt.Info.ClientsConnected)
	s.MQTT.Devices = e.devices.path != ""
	s.MQTT.Refused = vecValues(e.metrics.mqttRefused, refusalReasons)
	s.Ingest.Messages = int64(counterValue(e.metrics.messages))
	s.Ingest.Points = int64(counterValue(e.metrics.points))
	s.Ingest.ResendsSkipped = int64(counterValue(e.metrics.resendsSkipped))
	s.Ingest.Rejected = vecValues(e.metrics.rejected, rejectReasons)
	s.Ingest.Refused = vecValues(e.metrics.refused, []string{"full", "write_error"})
	s.Ingest.LastRejects = e.rejects.recent()

	st := e.outbox.Stats()
	o := &s.Outbox
	o.ID, o.PendingRecords, o.PendingPoints, o.PendingBytes = st.ID, st.PendingRecords, st.PendingPoints, st.PendingBytes
	o.OldestPendingSeconds = oldestAge(st.OldestPending).Seconds()
	o.DiskBytes, o.Rejected = st.DiskBytes, st.Rejected
	o.DroppedPoints, o.DroppedRecords = map[string]int64{}, map[string]int64{}
	for _, r := range []string{"full", "age", "corrupt"} {
		o.DroppedPoints[r], o.DroppedRecords[r] = st.Dropped[r].Points, st.Dropped[r].Records
	}
	s.Forward.Records = int64(counterValue(e.metrics.forwardedRecords))
	s.Forward.Points = int64(counterValue(e.metrics.forwardedPoints))
	s.Forward.RecordsPerSecond, s.Forward.PointsPerSecond = e.fwdRate.rates(time.Now())
	s.Forward.DeadLetterRecords = int64(counterValue(e.metrics.deadRecords))
	s.Forward.DeadLetterPoints = int64(counterValue(e.metrics.deadPoints))
	if e.pipe != nil {
		s.Pipeline = e.pipe.status()
	}
	s.Inputs = e.inputStatus()
	s.Outputs = e.outputs.Status()
	s.Desired = e.applied()
	return s
}

// rateWindow is the span, in seconds, of the forwarding rates.
const rateWindow = 10

// rateMeter sums what the forwarder sent per second, so that the status can
// show a rate without a Prometheus server to compute one.
type rateMeter struct {
	mu      sync.Mutex                 // guards buckets
	buckets [rateWindow + 1]rateBucket // the bucket of unix second s is buckets[s % len]
}

type rateBucket struct{ sec, records, points int64 }

// add counts records and points sent at now.
func (m *rateMeter) add(now time.Time, records, points int) {
	sec := now.Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	b := &m.buckets[uint64(sec)%uint64(len(m.buckets))]
	if b.sec != sec {
		*b = rateBucket{sec: sec}
	}
	b.records += int64(records)
	b.points += int64(points)
}

// rates returns records and points per second, averaged over the
// rateWindow complete seconds before now: the second in progress is left
// out, so a rate does not dip at the start of every second.
func (m *rateMeter) rates(now time.Time) (records, points float64) {
	sec := now.Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	var r, p int64
	for _, b := range m.buckets {
		if b.sec >= sec-rateWindow && b.sec < sec {
			r += b.records
			p += b.points
		}
	}
	return float64(r) / rateWindow, float64(p) / rateWindow
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

func vecValues(v *prometheus.CounterVec, labels []string) map[string]int64 {
	out := make(map[string]int64, len(labels))
	for _, l := range labels {
		out[l] = int64(counterValue(v.WithLabelValues(l)))
	}
	return out
}

func (e *Edge) statusHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(e.Status())
	})
	mux.HandleFunc("GET /api/v1/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		events := []EventJSON{}
		if e.pipe != nil {
			events = e.pipe.recentEvents()
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"events": events})
	})
	// A new key for the edge (molen edge rotate-key): the status API
	// listens on the loopback interface unless configured otherwise.
	mux.HandleFunc("POST /api/v1/rotate-key", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fp, err := e.RotateKey(r.Context())
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"key": fp})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(prometheus.GathererFunc(e.gatherMetrics), promhttp.HandlerOpts{}))
	return mux
}
