package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// SecurityFactsPrefix is where the edge writes the facts of its security
// self-check: what a sandboxed service cannot see for itself (listeners,
// TLS, device authentication, the age of credentials). The edge writes
// them into its own pipeline at start and every SecurityFactsEvery, so a
// service (services/secure) judges them and the hub keeps their history.
const SecurityFactsPrefix = "_edge/security/"

// SecurityFactsEvery is how often the edge writes its security facts.
const SecurityFactsEvery = time.Hour

// SecurityFacts returns the edge's security facts at now, as points
// under SecurityFactsPrefix:
//
//	mqtt_public              bool   the device listener accepts other hosts than this one
//	mqtt_tls                 bool   it speaks TLS
//	mqtt_client_certs        bool   devices may log in with client certificates
//	mqtt_anonymous           bool   clients without a username or certificate may publish
//	status_public            bool   the status API and /metrics accept other hosts
//	hub_pinned               bool   the hub's certificate is pinned
//	credential_age_days      float  days since the edge enrolled or last rotated its key (its credential file; absent before enrolling)
//	devices_file_age_days    float  age of the devices file, with the device passwords (absent without one)
//	mqtt_tls_cert_days_left  float  days until the listener's certificate expires (absent without TLS)
func (e *Edge) SecurityFacts(now time.Time) []uns.Point {
	ts := now.UnixNano()
	var pts []uns.Point
	add := func(name string, v uns.Value) {
		pts = append(pts, uns.Point{Series: SecurityFactsPrefix + name, TS: ts, Value: v})
	}
	cfg := e.cfg
	open := e.devices == nil || e.devices.path == ""
	add("mqtt_public", uns.Bool(public(e.MQTTAddr())))
	add("mqtt_tls", uns.Bool(cfg.MQTTTLSCert != ""))
	add("mqtt_client_certs", uns.Bool(cfg.MQTTClientCA != ""))
	add("mqtt_anonymous", uns.Bool(open || cfg.MQTTAnonymous))
	add("status_public", uns.Bool(public(e.StatusAddr())))
	add("hub_pinned", uns.Bool(len(cfg.HubPins) > 0))
	days := func(t time.Time) uns.Value { return uns.Float(now.Sub(t).Hours() / 24) }
	if fi, err := os.Stat(filepath.Join(cfg.DataDir, credentialFile)); err == nil {
		add("credential_age_days", days(fi.ModTime()))
	}
	if !open {
		if fi, err := os.Stat(e.devices.path); err == nil {
			add("devices_file_age_days", days(fi.ModTime()))
		}
	}
	if cfg.MQTTTLSCert != "" {
		if c, err := tls.LoadX509KeyPair(cfg.MQTTTLSCert, cfg.MQTTTLSKey); err == nil && len(c.Certificate) > 0 {
			if leaf, err := x509.ParseCertificate(c.Certificate[0]); err == nil {
				add("mqtt_tls_cert_days_left", uns.Float(leaf.NotAfter.Sub(now).Hours()/24))
			}
		}
	}
	return pts
}

// public reports whether a listener's address accepts connections from
// other hosts: anything but a loopback address.
func public(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// securityFacts writes the security facts into the pipeline at start and
// every SecurityFactsEvery until ctx ends. A refused write (the outbox
// full) is retried at the next round: the facts are a snapshot.
func (e *Edge) securityFacts(ctx context.Context) error {
	t := time.NewTicker(SecurityFactsEvery)
	defer t.Stop()
	for {
		if err := e.accept(ctx, e.SecurityFacts(time.Now())); err != nil && ctx.Err() == nil {
			e.log.Warn("security self-check: facts not stored", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
