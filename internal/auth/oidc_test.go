package auth_test

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/meta/metatest"
)

// startOP starts zitadel's OpenID provider (its example server: a real
// provider implementation with an in-memory store and a login form) with
// the hub registered as a web client.
func startOP(t *testing.T, callbacks ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	storage.RegisterClients(storage.WebClient("molen-hub", "hub-secret", callbacks...))
	router := exampleop.SetupServer(issuer, storage.NewStorage(storage.NewUserStore(issuer)), nil, false)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: router}}
	srv.Start()
	t.Cleanup(srv.Close)
	return issuer
}

// browser signs in at the hub through the provider as username, as a
// browser would: it follows the redirects and fills in the provider's
// login form. It returns the cookie jar and the last answer's status.
func browser(t *testing.T, hubURL, provider, username, password string) (*cookiejar.Jar, int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.Get(hubURL + "/api/v1/auth/oidc/" + provider + "/start")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("the provider's login page was not reached: %s %d", resp.Request.URL, resp.StatusCode)
	}
	login := *resp.Request.URL
	login.RawQuery = ""
	resp, err = c.PostForm(login.String(), url.Values{"id": {id}, "username": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 && resp.StatusCode != 404 {
		t.Logf("the sign-in ended with %d: %.200s", resp.StatusCode, b)
	}
	return jar, resp.StatusCode
}

func sessionFrom(jar *cookiejar.Jar, hubURL string) string {
	u, _ := url.Parse(hubURL)
	for _, c := range jar.Cookies(u) {
		if c.Name == api.SessionCookie {
			return c.Value
		}
	}
	return ""
}

// TestOIDC signs in through a real OpenID provider: a person new to the
// hub joins the provider's organisation; the same subject signs in as the
// same person again; without an organisation to join, an unknown person is
// refused; a callback without the flow's state is refused.
func TestOIDC(t *testing.T) {
	hubLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hubURL := "http://" + hubLn.Addr().String()
	issuer := startOP(t, hubURL+"/api/v1/auth/oidc/corp/callback", hubURL+"/api/v1/auth/oidc/closed/callback")
	db := metatest.SQLite(t)
	s, err := auth.New(t.Context(), auth.Config{DB: db, Argon2: testArgon2, PublicURL: func() string { return hubURL },
		OIDC: []auth.OIDCProvider{
			{Name: "corp", Issuer: issuer, ClientID: "molen-hub", ClientSecret: "hub-secret", Org: "acme", Role: api.RoleEngineer},
			{Name: "closed", Issuer: issuer, ClientID: "molen-hub", ClientSecret: "hub-secret"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []auth.Org{{ID: auth.PlatformOrg, Kind: auth.Platform}, {ID: "acme", Kind: auth.Company, Parent: auth.PlatformOrg}} {
		if err := s.CreateOrg(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	rt := &api.Router{Tokens: s, Sessions: s}
	rt.Handle(s.Routes()...)
	srv := &httptest.Server{Listener: hubLn, Config: &http.Server{Handler: rt}}
	srv.Start()
	t.Cleanup(srv.Close)

	me := func(sess string) (int, string) {
		req, _ := http.NewRequest("GET", hubURL+"/api/v1/me", nil)
		req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: sess})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	jar, _ := browser(t, hubURL, "corp", "test-user2", "verysecure")
	sess := sessionFrom(jar, hubURL)
	code, body := me(sess)
	if sess == "" || code != 200 || !strings.Contains(body, `"email":"test-user2@zitadel.ch"`) || !strings.Contains(body, `"role":"engineer"`) ||
		!strings.Contains(body, `"org":"acme"`) {
		t.Fatalf("after the provider's sign-in: session %q, me %d %s", sess, code, body)
	}
	jar, _ = browser(t, hubURL, "corp", "test-user2", "verysecure")
	if code, body2 := me(sessionFrom(jar, hubURL)); code != 200 || decodeID(body2) != decodeID(body) {
		t.Errorf("second sign-in: %d %s, want the same person", code, body2)
	}
	if members, _ := s.Members(t.Context(), "acme"); len(members) != 1 {
		t.Errorf("members of acme: %+v, want the one person", members)
	}
	// A provider without an organisation to join knows only known people.
	jar, _ = browser(t, hubURL, "closed", "test-user@127.0.0.1", "verysecure")
	if sess := sessionFrom(jar, hubURL); sess != "" {
		t.Errorf("an unknown person signed in without an organisation to join")
	}
	// A callback without the flow's state.
	resp, err := http.Get(hubURL + "/api/v1/auth/oidc/corp/callback?code=x&state=y")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("a callback without the flow's cookie: %d, want 401", resp.StatusCode)
	}
	if code, _ := me(""); code != 401 {
		t.Errorf("me without a session: %d", code)
	}
}

func decodeID(body string) string {
	i := strings.Index(body, `"id":"`)
	if i < 0 {
		return ""
	}
	rest := body[i+6:]
	return rest[:strings.IndexByte(rest, '"')]
}
