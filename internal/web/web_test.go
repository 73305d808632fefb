package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func serve(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandler(t *testing.T) {
	h := Handler()
	tests := []struct {
		method, target string
		wantStatus     int
		wantType       string // checked when non-empty
		wantCache      string // checked when non-empty
		wantBody       string // substring, checked when non-empty
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "no-cache", `<script type="module" src="/static/app/main.js"`},
		{"GET", "/index.html", 200, "text/html; charset=utf-8", "no-cache", "<title>molen</title>"},
		{"GET", "/static/app/core.js", 200, "text/javascript; charset=utf-8", "no-cache", "/api/v1/"},
		{"GET", "/static/vendor/uplot.js", 200, "text/javascript; charset=utf-8", "no-cache", "export default uPlot"},
		{"GET", "/static/style.css", 200, "text/css; charset=utf-8", "", ".badge"},
		{"GET", "/static/favicon.svg", 200, "image/svg+xml", "", "<svg"},
		{"GET", "/?x=1", 200, "text/html; charset=utf-8", "no-cache", ""},

		{"GET", "/nope", 404, "", "", ""},
		{"GET", "/app.js", 404, "", "", ""},
		{"GET", "/static", 404, "", "", ""},
		{"GET", "/static/", 404, "", "", ""},
		{"GET", "/static/nope.js", 404, "", "", ""},
		{"GET", "/static/../web.go", 404, "", "", ""},
		{"GET", "/static/static/app.js", 404, "", "", ""},
		{"GET", "/api", 404, "", "", ""},
		{"GET", "/api/", 404, "", "", ""},
		{"GET", "/api/v1/latest?prefix=", 404, "", "", ""},
		{"GET", "/api/v1/query?series=a/b&from=-10m", 404, "", "", ""},
		{"GET", "/api/static/app.js", 404, "", "", ""},

		{"POST", "/", 405, "", "", ""},
		{"DELETE", "/static/app/core.js", 405, "", "", ""},
		{"POST", "/api/v1/latest", 404, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			rec := serve(t, h, tt.method, tt.target, nil)
			if got := rec.Code; got != tt.wantStatus {
				t.Fatalf("status = %d, want %d", got, tt.wantStatus)
			}
			if tt.wantType != "" {
				if got := rec.Header().Get("Content-Type"); got != tt.wantType {
					t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
				}
			}
			if tt.wantCache != "" {
				if got := rec.Header().Get("Cache-Control"); got != tt.wantCache {
					t.Errorf("Cache-Control = %q, want %q", got, tt.wantCache)
				}
			}
			if tt.wantBody != "" && !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body does not contain %q", tt.wantBody)
			}
			if tt.wantStatus == 200 {
				if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
				}
			}
		})
	}
}

func TestIndexSecurityPolicy(t *testing.T) {
	rec := serve(t, Handler(), "GET", "/", nil)
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
}

func TestHead(t *testing.T) {
	rec := serve(t, Handler(), "HEAD", "/", nil)
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("HEAD /: status %d, %d body bytes; want 200 and none", rec.Code, rec.Body.Len())
	}
	if got := rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
}

func TestRevalidation(t *testing.T) {
	h := Handler()
	first := serve(t, h, "GET", "/static/app/core.js", nil)
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := serve(t, h, "GET", "/static/app/core.js", map[string]string{"If-None-Match": etag})
	if again.Code != http.StatusNotModified {
		t.Errorf("revalidation with the current ETag: status %d, want 304", again.Code)
	}
	other := serve(t, h, "GET", "/static/app/core.js", map[string]string{"If-None-Match": `"stale"`})
	if other.Code != 200 {
		t.Errorf("revalidation with an old ETag: status %d, want 200", other.Code)
	}
}

// TestAssetsServed checks every embedded file: its type is known and it is
// served byte for byte under /static/.
func TestAssetsServed(t *testing.T) {
	h := Handler()
	n := 0
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		want, ok := contentTypes[path.Ext(p)]
		if !ok {
			t.Errorf("%s: extension %q has no content type; add it to contentTypes", p, path.Ext(p))
			return nil
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		rec := serve(t, h, "GET", "/"+p, nil)
		if rec.Code != 200 {
			t.Errorf("GET /%s: status %d", p, rec.Code)
			return nil
		}
		if got := rec.Header().Get("Content-Type"); got != want {
			t.Errorf("GET /%s: Content-Type %q, want %q", p, got, want)
		}
		if rec.Body.String() != string(body) {
			t.Errorf("GET /%s: body differs from the embedded file", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Errorf("%d embedded files, want at least index.html, the modules, style.css, favicon.svg", n)
	}
}

// TestIndexReferences checks that every local file index.html loads exists.
func TestIndexReferences(t *testing.T) {
	h := Handler()
	index, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(index), -1)
	if len(refs) < 3 {
		t.Fatalf("index.html references %d files, want at least the script, the style and the icon", len(refs))
	}
	for _, m := range refs {
		if !strings.HasPrefix(m[1], "/static/") {
			t.Errorf("index.html references %q, want a path under /static/", m[1])
			continue
		}
		if rec := serve(t, h, "GET", m[1], nil); rec.Code != 200 {
			t.Errorf("index.html references %q: status %d", m[1], rec.Code)
		}
	}
}

// appSources returns the application's own modules (not the vendored
// libraries), comments stripped.
func appSources(t *testing.T) map[string]string {
	t.Helper()
	out := make(map[string]string)
	entries, err := fs.ReadDir(static, "static/app")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		body, err := static.ReadFile("static/app/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(stripComments(e.Name(), body))
	}
	return out
}

// TestAPIContract pins the hub endpoints the application calls (as
// api('…'), useApi('…'), download('…'), apiURL('…') under /api/v1/, and
// api(at('members/{user}', …)) for a route with an ID);
// TestWebEndpointsServed in internal/hub checks the hub serves each.
// Changing the list means changing the hub too.
func TestAPIContract(t *testing.T) {
	var got []string
	call := regexp.MustCompile(`\b(?:api|useApi|download|apiURL)\((?:at\()?'([a-z/{}.-]+)'`)
	for _, src := range appSources(t) {
		for _, m := range call.FindAllStringSubmatch(src, -1) {
			if !slices.Contains(got, m[1]) {
				got = append(got, m[1])
			}
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, Endpoints) {
		t.Errorf("the application calls %q, want %q (Endpoints)", got, Endpoints)
	}
}

// TestCatalogue checks that English and Dutch have the same keys, that no
// key is in two catalogue files (i18n.js and the i18n-*.js it merges) and
// that every key the code names literally is in the catalogue.
func TestCatalogue(t *testing.T) {
	src := appSources(t)
	key := regexp.MustCompile(`'([a-zA-Z]+\.[-a-zA-Z0-9.]+)':`)
	keys := func(s string) []string {
		var out []string
		for _, m := range key.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		slices.Sort(out)
		return out
	}
	var en, nlKeys []string
	files := 0
	for name, cat := range src {
		if !strings.HasPrefix(name, "i18n") {
			continue
		}
		files++
		nl := strings.Index(cat, "\n  nl: {")
		if nl < 0 {
			t.Fatalf("%s: no nl catalogue", name)
		}
		for _, k := range keys(cat[:nl]) {
			if slices.Contains(en, k) {
				t.Errorf("%s: key %q is in another catalogue file too", name, k)
			}
			en = append(en, k)
		}
		nlKeys = append(nlKeys, keys(cat[nl:])...)
	}
	if files < 2 || len(en) < 200 {
		t.Fatalf("%d catalogue files with %d English keys, want i18n.js, i18n-accounts.js and the whole catalogue", files, len(en))
	}
	for _, k := range en {
		if !slices.Contains(nlKeys, k) {
			t.Errorf("key %q has no Dutch text", k)
		}
	}
	for _, k := range nlKeys {
		if !slices.Contains(en, k) {
			t.Errorf("key %q has no English text", k)
		}
	}
	used := regexp.MustCompile(`\bt\((?:[^'()]*\? )?'([a-zA-Z]+\.[a-zA-Z0-9]+)'(?: : '([a-zA-Z]+\.[a-zA-Z0-9]+)')?`)
	for name, s := range src {
		for _, m := range used.FindAllStringSubmatch(s, -1) {
			for _, k := range m[1:] {
				if k != "" && !slices.Contains(en, k) {
					t.Errorf("%s uses key %q, which the catalogue lacks", name, k)
				}
			}
		}
	}
}

// xmlNamespaces are URIs that name an XML vocabulary; nothing is fetched from
// them, so they are the only URLs the assets may contain outside comments.
var xmlNamespaces = []string{"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xhtml", "http://www.w3.org/1998/Math/MathML"}

// urlPattern matches absolute and protocol-relative URLs.
var urlPattern = regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9-]+(?:\.[a-z0-9-]+)+`)

// externalURLs returns the URLs in src, outside comments, other than XML
// namespace names.
func externalURLs(name string, src []byte) []string {
	code := string(stripComments(name, src))
	for _, ns := range xmlNamespaces {
		code = strings.ReplaceAll(code, ns, "")
	}
	return urlPattern.FindAllString(code, -1)
}

// stripComments blanks out the comments of a JS, CSS, HTML or SVG file. For
// JS it follows strings, template literals and regular expression literals,
// so "//" inside them is not taken for a comment. It errs towards keeping
// text: a mistake can only make TestNoExternalURLs stricter.
func stripComments(name string, src []byte) []byte {
	s := string(src)
	switch path.Ext(name) {
	case ".html", ".svg":
		return []byte(regexp.MustCompile(`(?s)<!--.*?-->`).ReplaceAllString(s, ""))
	case ".css":
		return []byte(regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(s, ""))
	case ".js":
		return stripJSComments(s)
	}
	return src
}

func stripJSComments(s string) []byte {
	var out []byte
	// prev is the last significant character emitted; it tells a regular
	// expression literal from a division.
	var prev byte
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '/' && i+1 < len(s) && s[i+1] == '/':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 4
			out = append(out, ' ')
		case c == '"' || c == '\'' || c == '`' || c == '/' && strings.IndexByte("(,=:[!&|?{};+-*%<>~^\x00\n", prev) >= 0:
			j := i + 1
			inClass := false
			for j < len(s) {
				switch d := s[j]; {
				case d == '\\':
					j++
				case c == '/' && d == '[':
					inClass = true
				case c == '/' && d == ']':
					inClass = false
				case d == c && !inClass:
					j++
					goto done
				case d == '\n' && c != '`':
					goto done
				}
				j++
			}
		done:
			out = append(out, s[i:min(j, len(s))]...)
			prev = 'a'
			i = j
		default:
			out = append(out, c)
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				prev = c
			}
			i++
		}
	}
	return out
}

func TestExternalURLs(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"a.js", `fetch("https://cdn.example.com/x.js")`, []string{"https://cdn.example.com"}},
		{"a.js", `const u = 'http://example.org';`, []string{"http://example.org"}},
		{"a.js", "const u = `//cdn.example.com/lib.js`;", []string{"//cdn.example.com"}},
		{"a.js", `// see https://example.com for details` + "\nconst a = 1;", nil},
		{"a.js", `/* https://example.com */ const a = 1;`, nil},
		{"a.js", `const a = "x//y"; load("https://evil.example.net")`, []string{"https://evil.example.net"}},
		{"a.js", `const r = /["']/g; const u = "https://a.example"; // ' "`, []string{"https://a.example"}},
		{"a.js", `const r = /\/\//; const u = "https://b.example";`, []string{"https://b.example"}},
		{"a.js", `const q = a / b; const u = "https://c.example"; const d = c / 2;`, []string{"https://c.example"}},
		{"a.js", `const ns = 'http://www.w3.org/2000/svg';`, nil},
		{"a.js", `const ns = 'http://www.w3.org/1999/xhtml';`, nil},
		{"a.js", `const spec = 'http://www.w3.org/TR/html';`, []string{"http://www.w3.org"}},
		{"a.css", `/* https://example.com */ .a { background: url(https://img.example.com/a.png); }`, []string{"https://img.example.com"}},
		{"a.css", `/* https://example.com */ .a { color: red; }`, nil},
		{"a.html", `<!-- https://example.com --><script src="https://cdn.example.com/x.js"></script>`, []string{"https://cdn.example.com"}},
		{"a.html", `<link rel="stylesheet" href="//fonts.example.com/css">`, []string{"//fonts.example.com"}},
		{"a.html", `<!-- https://example.com --><script src="/static/app.js"></script>`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			if got := externalURLs(tt.name, []byte(tt.src)); !slices.Equal(got, tt.want) {
				t.Errorf("externalURLs(%s) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

// TestNoExternalURLs keeps the UI self-contained: hubs often run without
// internet access, and the page must not leak its users to third parties.
func TestNoExternalURLs(t *testing.T) {
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		if p == "static/vendor/LICENSES.txt" {
			return nil // the libraries' licence texts, never loaded by the page
		}
		if got := externalURLs(p, body); len(got) > 0 {
			t.Errorf("%s refers to external URLs %q", p, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
