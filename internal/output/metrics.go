package output

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	labels      = []string{"output", "kind"}
	descSent    = prometheus.NewDesc("molen_edge_output_points_sent_total", "Points an output's peer accepted.", labels, nil)
	descRetried = prometheus.NewDesc("molen_edge_output_retries_total", "Failed sends of an output, each retried.", labels, nil)
	descDropped = prometheus.NewDesc("molen_edge_output_points_dropped_total", "Points an output lost: dropped by its buffer's bound, refused by its peer, or not taken into its buffer.", labels, nil)
	descPending = prometheus.NewDesc("molen_edge_output_points_pending", "Points buffered for an output and not yet sent.", labels, nil)
	descLag     = prometheus.NewDesc("molen_edge_output_lag_seconds", "Age of the oldest point buffered for an output.", labels, nil)
)

// Describe implements prometheus.Collector.
func (s *Set) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSent, descRetried, descDropped, descPending, descLag} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *Set) Collect(ch chan<- prometheus.Metric) {
	if s == nil {
		return
	}
	now := time.Now()
	for _, o := range s.outs {
		st := o.status(now)
		ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(st.Sent), o.name, o.kind)
		ch <- prometheus.MustNewConstMetric(descRetried, prometheus.CounterValue, float64(st.Retried), o.name, o.kind)
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.Dropped), o.name, o.kind)
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(st.Pending), o.name, o.kind)
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, st.LagSeconds, o.name, o.kind)
	}
}
