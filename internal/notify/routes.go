package notify

import (
	"crypto/hmac"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/factory"
	"github.com/molen-io/molen/internal/meta"
)

// Routes are the domain's: channels (admins change them: they hold
// secrets; engineers list them, without webhook paths, to choose them in
// rules), rules
// (engineers change them, members read them), the organisation's settings
// (the language of its messages: admins change them, members read them), the delivery log (members)
// and its retries (engineers), and the acknowledgement page of the links
// in messages (public: the signed link is the credential).
func (s *Service) Routes() []api.Route {
	const small = 8 << 10
	return []api.Route{
		{Method: "GET", Path: "/api/v1/notify/channels", Auth: api.Engineer, Area: "notify", Handle: s.listChannels},
		{Method: "POST", Path: "/api/v1/notify/channels", Auth: api.Admin, Area: "notify", Handle: s.createChannel, SelfAudited: true},
		{Method: "DELETE", Path: "/api/v1/notify/channels/{channel}", Auth: api.Admin, Area: "notify", Handle: s.deleteChannel, SelfAudited: true},
		{Method: "POST", Path: "/api/v1/notify/channels/{channel}/test", Auth: api.Engineer, Area: "notify", Handle: s.testChannel},
		{Method: "GET", Path: "/api/v1/notify/rules", Auth: api.Viewer, Area: "notify", Handle: s.listRules},
		{Method: "POST", Path: "/api/v1/notify/rules", Auth: api.Engineer, Area: "notify", Handle: s.createRule, SelfAudited: true},
		{Method: "PUT", Path: "/api/v1/notify/rules/{rule}", Auth: api.Engineer, Area: "notify", Handle: s.putRule, SelfAudited: true},
		{Method: "DELETE", Path: "/api/v1/notify/rules/{rule}", Auth: api.Engineer, Area: "notify", Handle: s.deleteRule, SelfAudited: true},
		{Method: "GET", Path: "/api/v1/notify/deliveries", Auth: api.Viewer, Area: "notify", Handle: s.listDeliveries},
		{Method: "POST", Path: "/api/v1/notify/deliveries/{delivery}/retry", Auth: api.Engineer, Area: "notify", Handle: s.retry},
		{Method: "GET", Path: "/api/v1/notify/settings", Auth: api.Viewer, Area: "notify", Handle: s.getSettings},
		{Method: "PUT", Path: "/api/v1/notify/settings", Auth: api.Admin, Area: "notify", Handle: s.putSettings, SelfAudited: true},
		{Method: "GET", Path: "/notify/ack", Auth: api.Public, Stream: s.ackPage},
		{Method: "POST", Path: "/notify/ack", Auth: api.Public, Stream: s.ackPage, MaxBody: small},
	}
}

func decode(r *http.Request, v any, shape string) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return api.BadRequest("body: %v; want %s", err, shape)
	}
	return nil
}

// channelJSON is a channel as the API shows it: the secret masked.
type channelJSON struct {
	Channel
	Secret string `json:"secret"` // "" none, "set" masked, or the secret once
}

func masked(c Channel) channelJSON {
	j := channelJSON{Channel: c}
	if c.Secret != "" {
		j.Secret = "set"
	}
	return j
}

func (s *Service) listChannels(r *http.Request, p api.Principal) (any, error) {
	cs, err := s.Channels(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	admin := api.Allow(p, api.Admin, "notify") == nil
	out := make([]channelJSON, len(cs))
	for i, c := range cs {
		out[i] = masked(c)
		if !admin && c.Kind == KindWebhook { // a Teams or Slack URL is a credential
			if u, err := url.Parse(c.Target); err == nil {
				out[i].Target = u.Scheme + "://" + u.Host + "/…"
			}
		}
	}
	return map[string]any{"channels": out, "email": s.cfg.SMTP.Addr != ""}, nil
}

const channelShape = `{"name", "kind": "email|webhook|mqtt", "target", "format": "json|teams|slack", "topic", "username", "password"}`

func (s *Service) createChannel(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Name, Kind, Target, Format, Topic, Username, Password string
	}
	if err := decode(r, &req, channelShape); err != nil {
		return nil, err
	}
	c := Channel{Name: strings.TrimSpace(req.Name), Kind: req.Kind, Target: strings.TrimSpace(req.Target), Format: req.Format, Topic: req.Topic, Username: req.Username}
	if c.Kind == KindMQTT {
		c.Secret = req.Password
	}
	c, err := s.CreateChannel(r.Context(), p.Org, c, audit.RequestEntry(r, p, "notify.channel.created", "", nil))
	if err != nil {
		return nil, err
	}
	j := masked(c)
	if c.Kind == KindWebhook {
		j.Secret = c.Secret // shown once: the receiver needs it to check signatures
	}
	return api.Created(j), nil
}

func (s *Service) deleteChannel(r *http.Request, p api.Principal) (any, error) {
	id := r.PathValue("channel")
	if err := s.DeleteChannel(r.Context(), p.Org, id, audit.RequestEntry(r, p, "notify.channel.deleted", id, nil)); err != nil {
		return nil, err
	}
	return map[string]any{"deleted": id}, nil
}

func (s *Service) testChannel(r *http.Request, p api.Principal) (any, error) {
	if err := s.Test(r.Context(), p.Org, r.PathValue("channel")); err != nil {
		return nil, err
	}
	return map[string]any{"queued": true}, nil
}

func (s *Service) listRules(r *http.Request, p api.Principal) (any, error) {
	rs, err := s.Rules(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	return map[string]any{"rules": rs}, nil
}

const ruleShape = `{"name", "trigger": "alarm|down|oee_below|edge_offline|edge_buffer|input_down", "prefix", "minutes", "target", "shifts", "channel", "escalate_to", "escalate_minutes", "quiet_from": "HH:MM", "quiet_to", "tz", "enabled"}`

func (s *Service) readRule(r *http.Request) (Rule, error) {
	var req struct {
		Name            string `json:"name"`
		Trigger         string `json:"trigger"`
		Prefix          string `json:"prefix"`
		Minutes         int    `json:"minutes"`
		Target          int    `json:"target"`
		Shifts          string `json:"shifts"`
		Channel         string `json:"channel"`
		EscalateTo      string `json:"escalate_to"`
		EscalateMinutes int    `json:"escalate_minutes"`
		QuietFrom       string `json:"quiet_from"`
		QuietTo         string `json:"quiet_to"`
		TZ              string `json:"tz"`
		Enabled         *bool  `json:"enabled"`
	}
	if err := decode(r, &req, ruleShape); err != nil {
		return Rule{}, err
	}
	return Rule{Name: strings.TrimSpace(req.Name), Trigger: req.Trigger, Prefix: req.Prefix, Minutes: req.Minutes, Target: req.Target, Shifts: strings.TrimSpace(req.Shifts),
		Channel: req.Channel, EscalateTo: req.EscalateTo, EscalateMinutes: req.EscalateMinutes, QuietFrom: req.QuietFrom, QuietTo: req.QuietTo, TZ: req.TZ,
		Enabled: req.Enabled == nil || *req.Enabled}, nil
}

func (s *Service) createRule(r *http.Request, p api.Principal) (any, error) {
	rule, err := s.readRule(r)
	if err != nil {
		return nil, err
	}
	rule, err = s.PutRule(r.Context(), p.Org, rule, audit.RequestEntry(r, p, "notify.rule.created", "", nil))
	if err != nil {
		return nil, err
	}
	return api.Created(rule), nil
}

func (s *Service) putRule(r *http.Request, p api.Principal) (any, error) {
	rule, err := s.readRule(r)
	if err != nil {
		return nil, err
	}
	rule.ID = r.PathValue("rule")
	if _, err := s.Rule(r.Context(), p.Org, rule.ID); err != nil {
		return nil, err
	}
	return s.PutRule(r.Context(), p.Org, rule, audit.RequestEntry(r, p, "notify.rule.changed", "", nil))
}

func (s *Service) deleteRule(r *http.Request, p api.Principal) (any, error) {
	id := r.PathValue("rule")
	if err := s.DeleteRule(r.Context(), p.Org, id, audit.RequestEntry(r, p, "notify.rule.deleted", id, nil)); err != nil {
		return nil, err
	}
	return map[string]any{"deleted": id}, nil
}

func (s *Service) listDeliveries(r *http.Request, p api.Principal) (any, error) {
	q := r.URL.Query()
	state := q.Get("state")
	if state != "" && state != StatePending && state != StateSent && state != StateFailed {
		return nil, api.BadRequest("state=%q: want pending, sent or failed", state)
	}
	limit, err := api.Limit("limit", q.Get("limit"), 100, 1000)
	if err != nil {
		return nil, err
	}
	ds, err := s.Deliveries(r.Context(), p.Org, state, limit)
	if err != nil {
		return nil, err
	}
	return map[string]any{"deliveries": ds}, nil
}

func (s *Service) retry(r *http.Request, p api.Principal) (any, error) {
	return s.Retry(r.Context(), p.Org, r.PathValue("delivery"))
}

var ackTmpl = template.Must(template.New("ack").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T "ack.title"}} · molen</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main id="main" class="signin"><div class="panel">
<h1><img src="/static/favicon.svg" alt="" width="32" height="32"> {{.T "ack.title"}}</h1>
{{if .Error}}<p role="alert" class="error">{{.Error}}</p>{{end}}
{{if .Alarm}}<p><strong>{{.Alarm}}</strong></p><p>{{.Since}}</p>{{end}}
{{if .Info}}<p role="status">{{.Info}}</p>{{end}}
{{if .Token}}<form method="post">
<input type="hidden" name="token" value="{{.Token}}">
<label>{{.T "ack.name"}} <input name="name" autocomplete="name" maxlength="100"></label>
<button type="submit" class="primary">{{.T "acknowledge"}}</button>
</form>{{end}}
<p class="hint"><a href="/#/alarms">{{.T "ack.open"}}</a></p>
</div></main></body></html>
`))

// ackView is the acknowledgement page, in Lang (the message's language).
type ackView struct {
	Lang                             string
	Error, Info, Alarm, Since, Token string
}

// T is the page's text of key in its language.
func (v ackView) T(key string, args ...any) string { return tr(v.Lang, key, args...) }

// requestLang is the language of a page that names no message: Dutch if
// the browser prefers it to English, else English.
func requestLang(r *http.Request) string {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		lang, _, _ := strings.Cut(tag, "-")
		switch strings.ToLower(lang) {
		case Dutch:
			return Dutch
		case English:
			return English
		}
	}
	return English
}

func renderAck(w http.ResponseWriter, code int, v ackView) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	return ackTmpl.Execute(w, v)
}

// delivery of an acknowledgement token: the delivery it names, if the
// signature is this hub's.
func (s *Service) byToken(r *http.Request, token string) (Delivery, error) {
	id, _, ok := strings.Cut(token, ".")
	if !ok || !hmac.Equal([]byte(s.ackToken(id)), []byte(token)) {
		return Delivery{}, meta.ErrNotFound
	}
	rows, err := s.db.QueryContext(r.Context(), `SELECT `+deliveryCols+` FROM notify_deliveries WHERE id = $1`, id)
	if err != nil {
		return Delivery{}, err
	}
	ds, err := scanDeliveries(rows)
	if err != nil || len(ds) == 0 {
		return Delivery{}, errors.Join(err, meta.ErrNotFound)
	}
	return ds[0], nil
}

// ackPage shows the alarm a link names (GET: spends nothing, so a link
// scanner that fetches it acknowledges nothing) and acknowledges it
// (POST, from this page only).
func (s *Service) ackPage(w http.ResponseWriter, r *http.Request, _ api.Principal) error {
	v := ackView{Lang: requestLang(r)}
	token := r.URL.Query().Get("token")
	if r.Method == "POST" {
		if err := api.SameOrigin(r); err != nil {
			return err
		}
		if err := r.ParseForm(); err != nil {
			return api.BadRequest("form: %v", err)
		}
		token = r.PostForm.Get("token")
	}
	d, err := s.byToken(r, token)
	if err != nil {
		v.Error = v.T("ack.invalid")
		return renderAck(w, http.StatusNotFound, v)
	}
	m := d.Message
	if m.Lang == Dutch || m.Lang == English {
		v.Lang = m.Lang
	}
	v.Alarm, v.Since = m.Title, v.T("ack.since", m.Start.UTC().Format("2006-01-02 15:04:05 UTC"))
	acked, err := s.cfg.Factory.Acked(r.Context(), d.Org, m.Asset, m.Kind, m.Start.UnixNano())
	if err != nil {
		return err
	}
	if acked {
		v.Info = v.T("ack.already")
		return renderAck(w, http.StatusOK, v)
	}
	if r.Method != "POST" {
		v.Token = token
		return renderAck(w, http.StatusOK, v)
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if len(name) > 100 || meta.CheckText(name) != nil {
		name = ""
	}
	actor := "link:" + d.ID
	detail := map[string]string{"kind": m.Kind, "start": m.Start.UTC().Format(time.RFC3339Nano), "via": "notification link", "delivery": d.ID}
	if name != "" {
		detail["name"] = name
	}
	e := audit.Entry{Org: d.Org, Actor: actor, Action: "alarm.acked", Target: m.Asset, Detail: detail, Addr: api.ClientAddr(r)}
	text := ""
	if name != "" {
		text = v.T("ack.note", name)
	}
	err = s.cfg.Factory.AddNote(r.Context(), d.Org, m.Asset, m.Kind, m.Start.UnixNano(), factory.Note{At: s.now(), Actor: actor, Ack: true, Text: text}, e)
	switch {
	case errors.Is(err, meta.ErrExists):
		v.Info = v.T("ack.already")
	case err != nil:
		return err
	default:
		v.Info = v.T("ack.done")
	}
	if _, err := s.db.ExecContext(r.Context(), `UPDATE notify_deliveries SET acked = 1 WHERE org = $1 AND asset = $2 AND kind = $3 AND start_ts = $4`,
		d.Org, m.Asset, m.Kind, m.Start.UnixNano()); err != nil {
		return err
	}
	return renderAck(w, http.StatusOK, v)
}

func (s *Service) getSettings(r *http.Request, p api.Principal) (any, error) {
	return s.Settings(r.Context(), p.Org)
}

const settingsShape = `{"locale": "nl-NL", "language": "nl|en|"}`

func (s *Service) putSettings(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Locale   string `json:"locale"`
		Language string `json:"language"`
	}
	if err := decode(r, &req, settingsShape); err != nil {
		return nil, err
	}
	return s.PutSettings(r.Context(), p.Org, Settings{Locale: strings.TrimSpace(req.Locale), Language: req.Language},
		audit.RequestEntry(r, p, "notify.settings.changed", p.Org, nil))
}
