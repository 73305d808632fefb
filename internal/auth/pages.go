package auth

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/molen-io/molen/internal/api"
)

// The pages of one-time links: an invitation, a password reset, a sign-in
// link. Each is one small server-made form without script, so a link
// works in any browser; the web application may offer its own screens on
// the same API. Opening a page spends nothing: only its form's POST does
// (a link scanner that fetches the page leaves the link usable).
var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · molen</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main id="main" class="signin"><div class="panel">
<h1><img src="/static/favicon.svg" alt="" width="32" height="32"> {{.Title}}</h1>
{{if .Error}}<p role="alert" class="error">{{.Error}}</p>{{end}}
{{if .Info}}<p>{{.Info}}</p>{{end}}
{{if .Token}}<form method="post">
<input type="hidden" name="token" value="{{.Token}}">
{{if .AskName}}<label>Your name <input name="name" autocomplete="name" required maxlength="200"></label>{{end}}
{{if .AskPassword}}<label>{{.PasswordLabel}} <input type="password" name="password" autocomplete="{{.Autocomplete}}" required minlength="{{.Min}}" maxlength="256"></label>{{end}}
<button type="submit" class="primary">{{.Button}}</button>
</form>{{end}}
<p class="hint"><a href="/">Sign in to molen</a></p>
</div></main></body></html>
`))

type page struct {
	Title, Error, Info, Token, Button string
	AskName, AskPassword              bool
	PasswordLabel, Autocomplete       string
	Min                               int
}

// Pages are the routes of the link pages: GET shows the form, POST uses
// the link.
func (s *Service) Pages() []api.Route {
	const small = 8 << 10
	return []api.Route{
		{Method: "GET", Path: "/auth/invite", Auth: api.Public, Stream: s.invitePage},
		{Method: "POST", Path: "/auth/invite", Auth: api.Public, Stream: s.invitePage, MaxBody: small},
		{Method: "GET", Path: "/auth/reset", Auth: api.Public, Stream: s.resetPage},
		{Method: "POST", Path: "/auth/reset", Auth: api.Public, Stream: s.resetPage, MaxBody: small},
		{Method: "GET", Path: "/auth/login", Auth: api.Public, Stream: s.loginPage},
		{Method: "POST", Path: "/auth/login", Auth: api.Public, Stream: s.loginPage, MaxBody: small},
	}
}

func renderPage(w http.ResponseWriter, code int, p page) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The page takes the web application's stylesheet and icon; it runs no script.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	return pageTmpl.Execute(w, p)
}

// message is what a page says of a failed POST: the API's message for
// errors a person can act on, a plain one otherwise.
func message(err error) string {
	code, msg := api.Status(err)
	if code >= 500 {
		return "Something went wrong on the hub; try again later."
	}
	_, msg, _ = strings.Cut(msg, ": ")
	if msg == "" {
		_, msg = api.Status(err)
	}
	return msg
}

// done sets the session of a successful POST and goes to the application.
func (s *Service) done(w http.ResponseWriter, r *http.Request, in SignIn) error {
	if in.Pending {
		api.SetSessionCookie(w, r, in.Secret, PendingTTL)
		return renderPage(w, http.StatusOK, page{Title: "Second factor", Info: "Enter the code of your authenticator app in molen's sign-in screen to finish."})
	}
	api.SetSessionCookie(w, r, in.Secret, 0)
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

func formToken(r *http.Request) (string, error) {
	if r.Method == http.MethodGet {
		return r.URL.Query().Get("token"), nil
	}
	if err := api.SameOrigin(r); err != nil {
		return "", err
	}
	if err := r.ParseForm(); err != nil {
		return "", api.BadRequest("form: %v", err)
	}
	return r.PostForm.Get("token"), nil
}

func (s *Service) invitePage(w http.ResponseWriter, r *http.Request, _ api.Principal) error {
	p := page{Title: "Join molen", Button: "Join", AskPassword: true, PasswordLabel: "Choose a password", Autocomplete: "new-password", Min: MinPassword}
	tok, err := formToken(r)
	if err != nil {
		return err
	}
	l, err := s.peekLink(r.Context(), linkInvite, tok)
	if err != nil {
		return renderPage(w, http.StatusNotFound, page{Title: p.Title, Error: message(err)})
	}
	o, err := s.Org(r.Context(), l.Org)
	if err != nil {
		return err
	}
	_, uerr := s.UserByEmail(r.Context(), l.Email)
	p.Token, p.AskName = tok, uerr != nil
	p.Info = "You are invited to " + o.Name + " as " + string(l.Role) + ", as " + l.Email + "."
	if uerr == nil {
		p.PasswordLabel, p.Autocomplete, p.Min = "Your password", "current-password", 1
	}
	if r.Method == http.MethodPost {
		in, err := s.AcceptInvitation(r.Context(), tok, r.PostForm.Get("name"), r.PostForm.Get("password"), nil, client(r))
		if err == nil {
			return s.done(w, r, in)
		}
		p.Error = message(err)
		if errors.Is(err, errLink) {
			p.Token = ""
		}
		return renderPage(w, http.StatusBadRequest, p)
	}
	return renderPage(w, http.StatusOK, p)
}

func (s *Service) resetPage(w http.ResponseWriter, r *http.Request, _ api.Principal) error {
	p := page{Title: "Choose a new password", Button: "Set password", AskPassword: true, PasswordLabel: "New password", Autocomplete: "new-password", Min: MinPassword}
	tok, err := formToken(r)
	if err != nil {
		return err
	}
	if _, err := s.peekLink(r.Context(), linkReset, tok); err != nil {
		return renderPage(w, http.StatusNotFound, page{Title: p.Title, Error: message(err)})
	}
	p.Token = tok
	if r.Method == http.MethodPost {
		in, err := s.Reset(r.Context(), tok, r.PostForm.Get("password"), client(r))
		if err == nil {
			return s.done(w, r, in)
		}
		p.Error = message(err)
		return renderPage(w, http.StatusBadRequest, p)
	}
	return renderPage(w, http.StatusOK, p)
}

func (s *Service) loginPage(w http.ResponseWriter, r *http.Request, _ api.Principal) error {
	p := page{Title: "Sign in", Button: "Sign in"}
	tok, err := formToken(r)
	if err != nil {
		return err
	}
	l, err := s.peekLink(r.Context(), linkLogin, tok)
	if err != nil {
		return renderPage(w, http.StatusNotFound, page{Title: p.Title, Error: message(err)})
	}
	if u, err := s.User(r.Context(), l.User); err == nil {
		p.Info = "This link signs you in as " + u.Name + ", once."
	}
	p.Token = tok
	if r.Method == http.MethodPost {
		in, err := s.UseLoginLink(r.Context(), tok, client(r))
		if err == nil {
			return s.done(w, r, in)
		}
		p.Error, p.Token = message(err), ""
		return renderPage(w, http.StatusBadRequest, p)
	}
	return renderPage(w, http.StatusOK, p)
}
