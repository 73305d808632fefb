package auth

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	logins  *prometheus.CounterVec
	locked  prometheus.Counter
	refused *prometheus.CounterVec
}

func newMetrics() metrics {
	return metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_logins_total",
			Help: "Sign-in attempts of people, by result: ok, pending (second factor due), failed, locked, second_factor_failed."}, []string{"result"}),
		locked: prometheus.NewCounter(prometheus.CounterOpts{Name: "molen_hub_login_lockouts_total",
			Help: "Names locked after repeated failed sign-ins."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "molen_hub_links_refused_total",
			Help: "One-time links refused (unknown, used or expired), by kind."}, []string{"kind"}),
	}
}

func (m metrics) register(reg prometheus.Registerer) {
	reg.MustRegister(m.logins, m.locked, m.refused)
	for _, r := range []string{"ok", "pending", "failed", "locked", "second_factor_failed"} {
		m.logins.WithLabelValues(r)
	}
}
