// Command secure is molen's edge security self-check: it judges the facts
// the edge writes about itself (molen edge --security-facts: listeners,
// TLS, device authentication, the age of credentials) against checks
// drawn from IEC 62443-3-3 at security level 2, emits a score, and keeps
// a "security" event open for every check that fails until it passes (the
// event's asset is _edge/security/<check>).
//
// A module in molen-svc/1's sandbox sees no sockets, files or
// configuration: what it knows of the edge comes in as points, written
// by the edge under _edge/security/.
package main

import (
	"errors"
	"strconv"
	"strings"

	"github.com/molen-io/molen/sdk/molensvc"
	"github.com/molen-io/molen/services/internal/window"
)

// params are the install's parameters (margo.yaml).
type params struct {
	MaxCredentialDays float64 `json:"max_credential_days"`
	MaxPasswordDays   float64 `json:"max_password_days"`
	MinCertDays       float64 `json:"min_cert_days"`
}

const prefix = "_edge/security/"

// check is one rule on the facts.
type check struct {
	name, severity, requirement, advice string
	fails                               func(f facts, p params) (bool, string)
}

// facts are the newest facts, by name; absent facts are not in the map.
type facts map[string]molensvc.Value

func (f facts) bool(name string) (bool, bool) {
	v, ok := f[name]
	return v.Kind == molensvc.KindBool && v.B, ok
}

func (f facts) number(name string) (float64, bool) {
	v, ok := f[name]
	if !ok {
		return 0, false
	}
	return v.Number()
}

var checks = []check{
	{"anonymous_access", "high", "SR 1.1, SR 2.1",
		"add devices with molen edge device add, and leave --mqtt-anonymous off",
		func(f facts, _ params) (bool, string) { b, _ := f.bool("mqtt_anonymous"); return b, "" }},
	{"plaintext_listener", "high", "SR 4.1",
		"give the device listener a certificate (--mqtt-tls-cert, --mqtt-tls-key) or listen on 127.0.0.1 only",
		func(f facts, _ params) (bool, string) {
			pub, _ := f.bool("mqtt_public")
			tls, _ := f.bool("mqtt_tls")
			return pub && !tls, ""
		}},
	{"public_status_api", "medium", "SR 7.7",
		"let the status API and /metrics listen on 127.0.0.1, or put them behind a firewall",
		func(f facts, _ params) (bool, string) { b, _ := f.bool("status_public"); return b, "" }},
	{"credential_age", "medium", "SR 1.5",
		"rotate the edge's key: molen edge rotate-key",
		func(f facts, p params) (bool, string) {
			d, ok := f.number("credential_age_days")
			return ok && d > p.MaxCredentialDays, days(d)
		}},
	{"device_password_age", "low", "SR 1.5",
		"give each device a new password: remove its entry from the devices file and add it again with molen edge device add",
		func(f facts, p params) (bool, string) {
			d, ok := f.number("devices_file_age_days")
			return ok && d > p.MaxPasswordDays, days(d)
		}},
	{"certificate_expiry", "medium", "SR 1.8",
		"renew the device listener's certificate",
		func(f facts, p params) (bool, string) {
			d, ok := f.number("mqtt_tls_cert_days_left")
			return ok && d < p.MinCertDays, days(d)
		}},
	{"hub_not_pinned", "low", "SR 3.1",
		"pin the hub's key (--hub-pin) so that a certificate from another CA cannot stand in for it",
		func(f facts, _ params) (bool, string) { b, ok := f.bool("hub_pinned"); return ok && !b, "" }},
}

func days(d float64) string { return strconv.FormatFloat(d, 'f', 0, 64) + " days" }

// weight is what a failed check of a severity takes off the score.
var weight = map[string]float64{"high": 30, "medium": 15, "low": 5}

type secure struct {
	p    params
	f    facts
	open map[string]int64 // failing checks: when they began
	at   int64            // the newest facts' time
}

func (s *secure) Init(raw []byte) error {
	s.p = params{MaxCredentialDays: 365, MaxPasswordDays: 180, MinCertDays: 30}
	if err := window.Params(raw, &s.p); err != nil {
		return err
	}
	if s.p.MaxCredentialDays <= 0 || s.p.MaxPasswordDays <= 0 || s.p.MinCertDays < 0 {
		return errors.New("parameters: max_credential_days and max_password_days must be > 0, min_cert_days ≥ 0")
	}
	s.f = facts{}
	s.open = map[string]int64{}
	return nil
}

func (s *secure) Process(in []molensvc.Point, out *molensvc.Output) error {
	out.Points = append(out.Points, in...) // the facts pass on
	seen := false
	for _, p := range in {
		name, ok := strings.CutPrefix(p.Series, prefix)
		if !ok || strings.Contains(name, "/") || name == "score" || name == "findings" {
			continue
		}
		v := p.Value
		if v.Kind == molensvc.KindString {
			v.S = strings.Clone(v.S)
		}
		s.f[strings.Clone(name)] = v // name points into the input buffer
		s.at = max(s.at, p.TS)
		seen = true
	}
	if seen {
		s.judge(out)
	}
	return nil
}

// judge runs the checks on the newest facts: a check that starts failing
// opens an event, one that passes again closes it.
func (s *secure) judge(out *molensvc.Output) {
	score, findings := 100.0, 0.0
	for _, c := range checks {
		failing, detail := c.fails(s.f, s.p)
		start, open := s.open[c.name]
		switch {
		case failing:
			score -= weight[c.severity]
			findings++
			if open {
				continue
			}
			s.open[c.name] = s.at
			start = s.at
		case open:
			delete(s.open, c.name)
		default:
			continue
		}
		e := molensvc.Event{Asset: prefix + c.name, Kind: "security", Start: start, Attrs: map[string]string{
			"check": c.name, "severity": c.severity, "requirement": "IEC 62443-3-3 " + c.requirement, "advice": c.advice,
		}}
		if detail != "" {
			e.Attrs["detail"] = detail
		}
		if !failing {
			e.End = s.at
		}
		out.Event(e)
	}
	out.Point(prefix+"score", s.at, molensvc.Float(max(score, 0)), molensvc.Good)
	out.Point(prefix+"findings", s.at, molensvc.Float(findings), molensvc.Good)
}

func (s *secure) Tick(int64, *molensvc.Output) error { return nil }

func init() { molensvc.Register(&secure{}) }

func main() {}
