package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// contentTypes maps the extensions of the embedded files to their media
// types. It is explicit rather than taken from the mime package, whose
// answers depend on the host's /etc/mime.types.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

// securityPolicy allows the page to load and contact only its own origin.
const securityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// asset is one embedded file, read once at start.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler returns the handler for the browser UI: index.html at "/", the
// embedded files under "/static/", 404 for every other path (all of "/api/"
// included) and 405 for methods other than GET and HEAD.
func Handler() http.Handler {
	assets := make(map[string]asset)
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			// A file we cannot type is a packaging mistake; TestAssetsTyped
			// catches it, and at run time we refuse to guess.
			return nil
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		assets["/"+p] = asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a broken binary.
		panic("web: read embedded assets: " + err.Error())
	}
	index, ok := assets["/static/index.html"]
	if !ok {
		panic("web: static/index.html is not embedded")
	}
	// assets is read-only from here on, so requests may share it.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, found := index, true
		if p := r.URL.Path; p != "/" && p != "/index.html" {
			// Only "/static/" names are looked up, so nothing else (the API
			// above all) can ever be answered from here.
			a, found = assets[p]
			found = found && strings.HasPrefix(p, "/static/")
		}
		if !found {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The file names carry no version, so every copy must be revalidated:
		// after a hub upgrade the browser must not run yesterday's script.
		// The ETag keeps revalidation to a 304.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		if a.contentType == index.contentType {
			h.Set("Content-Security-Policy", securityPolicy)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

// Endpoints are the hub routes under /api/v1/ the application calls. The
// hub's tests check it serves each; TestAPIContract checks the list is the
// application's.
var Endpoints = []string{
	"academy/catalogue", "academy/courses", "academy/courses/{course}", "academy/enrolments", "academy/enrolments/{enrolment}/completion", "academy/enrolments/{enrolment}/credential",
	"academy/learners/{learner}", "academy/passport", "academy/routes", "academy/routes/{route}", "academy/verify",
	"alarms", "alarms/ack", "alarms/comment", "assessments", "assessments/comparison", "assessments/{assessment}", "audit", "audit/export", "audit/verify", "auth/login", "auth/logout",
	"auth/switch", "auth/totp", "catalogue", "catalogue/library", "delegations", "delegations/{delegation}", "dma/intervals", "dma/questionnaire", "downtime/pareto", "edges", "edges/{edge}/revoke", "events", "events/reason",
	"export", "fleet/edges", "fleet/edges/{edge}", "fleet/edges/{edge}/commands", "fleet/edges/{edge}/commands/{command}",
	"fleet/edges/{edge}/commands/{command}/bundle", "fleet/edges/{edge}/place", "fleet/groups", "fleet/groups/{group}", "fleet/layers",
	"fleet/layers/org", "fleet/layers/org/secrets/{name}", "fleet/layers/{scope}/{target}", "fleet/layers/{scope}/{target}/secrets/{name}", "fleet/releases",
	"fleet/rollouts", "fleet/rollouts/{rollout}", "fleet/rollouts/{rollout}/abort", "fleet/rollouts/{rollout}/pause", "fleet/rollouts/{rollout}/resume", "grants", "grants/{grant}", "invitations", "invitations/{invitation}", "journey", "latest", "library", "library/{entry}", "live",
	"market/grants", "market/installs", "market/installs/{name}", "market/keys", "market/packages", "market/provider", "market/review", "market/review/{id}/{version}/{action}", "market/services", "market/services/{id}",
	"market/services/{id}/versions/{version}/{action}", "me", "me/export",
	"me/password", "me/sessions", "me/sessions/{session}", "me/totp", "me/totp/confirm", "members", "members/{user}",
	"members/{user}/reset", "notify/channels", "notify/channels/{channel}", "notify/channels/{channel}/test", "notify/deliveries",
	"notify/deliveries/{delivery}/retry", "notify/rules", "notify/rules/{rule}", "notify/settings", "oee", "orgs", "programme/collaborations", "programme/customers",
	"programme/customers/{company}", "programme/customers/{company}/recommendations", "programme/customers/{company}/report.pdf", "programme/customers/{company}/services", "programme/edih-report", "programme/fieldlabs", "programme/fieldlabs/{fieldlab}", "programme/hub",
	"programme/kpi", "programme/snapshots", "programme/snapshots/{month}", "query", "quota", "quotas/{org}", "reasons", "series", "series/merge", "series/rename", "tokens",
	"tokens/{token}", "whoami",
}
