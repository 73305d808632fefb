package hub

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/store/postgres"
)

// httpMetrics count the hub's answers by route. The route label is the
// route's pattern ("/api/v1/edges/{id}"), never the raw path, and the
// method one of the standard methods or "other": the labels' values are
// bounded by the routes the hub registers, whatever clients ask.
type httpMetrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_http_requests_total",
			Help: "HTTP requests the hub answered, by route pattern, method and status code (refusals included)."}, []string{"route", "method", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "molen_hub_http_request_duration_seconds",
			Help:    "Time from a request's arrival at its route to the end of the answer, by route pattern and method (live streams and long polls last as long as they stay open).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.seconds)
	return m
}

// observe is the router's api.Router.Observe.
func (m *httpMetrics) observe(r *http.Request, route api.Route, code int, took time.Duration) {
	method := route.Method
	if method == "" {
		method = standardMethod(r.Method)
	}
	m.requests.WithLabelValues(route.Path, method, httpCode(code)).Inc()
	m.seconds.WithLabelValues(route.Path, method).Observe(took.Seconds())
}

// standardMethod is m if it is one of net/http's methods, else "other".
func standardMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// httpCode is the status code as a label: 100..599, else "other".
func httpCode(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code)
}

// Background jobs the hub runs and reports on: their names in the job
// label.
const (
	jobRetention  = "retention"  // expiring old data, hourly, by one hub of a database
	jobCompaction = "compaction" // the head into blocks and rollups (embedded), rows into blocks (PostgreSQL)
)

// jobMetrics count the runs of the hub's background jobs: how many, how
// many failed, when one last succeeded and how long they take. A run that
// did nothing because another hub holds the job's lease is no run.
type jobMetrics struct {
	runs, failures *prometheus.CounterVec
	lastSuccess    *prometheus.GaugeVec
	seconds        *prometheus.HistogramVec
}

func newJobMetrics(reg prometheus.Registerer) *jobMetrics {
	m := &jobMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_job_runs_total",
			Help: "Runs of the hub's background jobs (retention, compaction), failed ones included."}, []string{"job"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_job_failures_total",
			Help: "Runs of the hub's background jobs that failed; each is retried at the job's next run."}, []string{"job"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "molen_hub_job_last_success_timestamp_seconds",
			Help: "Unix time of the end of the job's last successful run in this hub (0: none yet)."}, []string{"job"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "molen_hub_job_duration_seconds",
			Help:    "How long the runs of the hub's background jobs took.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 9)}, []string{"job"}),
	}
	reg.MustRegister(m.runs, m.failures, m.lastSuccess, m.seconds)
	for _, job := range []string{jobRetention, jobCompaction} {
		m.runs.WithLabelValues(job)
		m.failures.WithLabelValues(job)
		m.lastSuccess.WithLabelValues(job)
	}
	return m
}

// ran records a run of job that ended at end, took took and failed with
// err (nil: succeeded).
func (m *jobMetrics) ran(job string, end time.Time, took time.Duration, err error) {
	m.runs.WithLabelValues(job).Inc()
	m.seconds.WithLabelValues(job).Observe(took.Seconds())
	if err != nil {
		m.failures.WithLabelValues(job).Inc()
		return
	}
	m.lastSuccess.WithLabelValues(job).Set(float64(end.UnixNano()) / 1e9)
}

// storageCollector reports the bytes the hub's storage takes: the files of
// the embedded databases (with their write-ahead logs), or the hub's
// PostgreSQL schema. Growth is its rate: deriv(molen_hub_storage_bytes[1d]).
type storageCollector struct {
	desc    *prometheus.Desc
	dataDir string
	pg      *postgres.Store // nil: embedded

	// mu guards at and size: PostgreSQL is asked at most once a
	// storageCacheFor, however often the hub is scraped.
	mu   sync.Mutex
	at   time.Time
	size int64
	ok   bool
}

// storageCacheFor is how long the hub reuses PostgreSQL's answer on size.
const storageCacheFor = 30 * time.Second

func newStorageCollector(dataDir string, pg *postgres.Store) *storageCollector {
	return &storageCollector{dataDir: dataDir, pg: pg,
		desc: prometheus.NewDesc("molen_hub_storage_bytes",
			"Bytes the hub's storage takes on disk, by part: points and metadata (the embedded databases' files), or postgres (the hub's schema).",
			[]string{"part"}, nil)}
}

func (c *storageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *storageCollector) Collect(ch chan<- prometheus.Metric) {
	if c.pg != nil {
		if size, ok := c.pgSize(); ok {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(size), "postgres")
		}
		return
	}
	for part, file := range map[string]string{"points": StoreFile, "metadata": MetaFile} {
		var size int64
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if fi, err := os.Stat(filepath.Join(c.dataDir, file+suffix)); err == nil {
				size += fi.Size()
			}
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(size), part)
	}
}

// pgSize is the schema's size, asked at most once a storageCacheFor; a
// database that does not answer leaves the metric out.
func (c *storageCollector) pgSize() (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < storageCacheFor {
		return c.size, c.ok
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	size, err := c.pg.Size(ctx)
	c.at, c.size, c.ok = time.Now(), size, err == nil
	return c.size, c.ok
}
