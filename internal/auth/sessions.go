package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/secret"
)

// Session is a person's browser session.
type Session struct {
	ID         string
	User       string
	Org        string // the organisation they act in; "" before they have one
	Delegation string // acting for Org by this consent
	Pending    bool   // the second factor is still due
	Created    time.Time
	Seen       time.Time
	Expires    time.Time // the absolute end
	Addr       string
	Agent      string
}

// PendingTTL is how long the second factor may take after the password.
const PendingTTL = 5 * time.Minute

// ErrLoginFailed is every failed sign-in alike: unknown name, wrong
// password, a person without a password. The message tells nothing more.
var ErrLoginFailed = fmt.Errorf("%w: wrong email or password", api.ErrUnauthenticated)

// errSecondFactor is a wrong, reused or late second-factor code.
var errSecondFactor = fmt.Errorf("%w: wrong or reused code", api.ErrUnauthenticated)

// Client is who a sign-in comes from, for the session list and the audit
// log.
type Client struct {
	Addr, Agent string
}

// SignIn is a successful step of signing in: a session secret to set as
// the cookie, and whether the second factor is still due.
type SignIn struct {
	Secret  string
	Session Session
	Pending bool
}

func nameHash(email string) string {
	return secret.Hash("login:" + strings.ToLower(strings.TrimSpace(email)))
}

// locked returns how long name's sign-ins stay locked at now.
func (s *Service) locked(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	var until int64
	err := meta.Found(s.db.QueryRowContext(ctx, `SELECT locked_until FROM login_failures WHERE name_hash = $1`, key).Scan(&until))
	if errors.Is(err, meta.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sign-in failures: %w", err)
	}
	return meta.Time(until).Sub(now), nil
}

// failed counts a failed sign-in of name: from LockAfter failures in a
// row, the name is locked for LockFor, doubling with each further failure
// up to LockMax.
func (s *Service) failed(ctx context.Context, key string, now time.Time) error {
	var n int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO login_failures (name_hash, failures, locked_until, last) VALUES ($1, 1, 0, $2)
		ON CONFLICT (name_hash) DO UPDATE SET failures = login_failures.failures + 1, last = excluded.last RETURNING failures`,
		key, meta.Nanos(now)).Scan(&n)
	if err != nil {
		return fmt.Errorf("count sign-in failure: %w", err)
	}
	if over := n - int64(s.cfg.LockAfter); over >= 0 {
		d := time.Duration(float64(s.cfg.LockFor) * math.Pow(2, float64(min(over, 30))))
		d = min(d, s.cfg.LockMax)
		if _, err := s.db.ExecContext(ctx, `UPDATE login_failures SET locked_until = $1 WHERE name_hash = $2`, meta.Nanos(now.Add(d)), key); err != nil {
			return fmt.Errorf("lock sign-in: %w", err)
		}
		s.metrics.locked.Inc()
	}
	return nil
}

func (s *Service) succeeded(ctx context.Context, key string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM login_failures WHERE name_hash = $1`, key)
	return err
}

func lockedError(wait time.Duration) error {
	return &api.LimitError{By: "sign-in name, after repeated failures", Wait: wait}
}

// confirm checks the password of a known person for a step that needs it
// besides a session (a new password, removing the second factor, erasure,
// joining with an existing account): under the same lockout as sign-ins,
// so none of them is a way to guess passwords.
func (s *Service) confirm(ctx context.Context, u User, pw string) error {
	now := s.now()
	key := nameHash(u.Email)
	if wait, err := s.locked(ctx, key, now); err != nil {
		return err
	} else if wait > 0 {
		return lockedError(wait)
	}
	ok, _, err := s.hash.Check(ctx, u.Password, truncate(pw, MaxPassword))
	if err != nil {
		return err
	}
	if !ok {
		if err := s.failed(ctx, key, now); err != nil {
			return err
		}
		return fmt.Errorf("%w: the password is wrong", api.ErrForbidden)
	}
	return s.succeeded(ctx, key)
}

// Login checks a person's email and password. Every failure is
// ErrLoginFailed and costs one password hash, whether or not anyone has
// that email, so neither the answer nor its time tells; failures count
// per name (known or not) towards a lockout, answered as a rate limit.
// With a second factor the session is pending until SecondFactor.
func (s *Service) Login(ctx context.Context, email, pw string, c Client) (SignIn, error) {
	now := s.now()
	if s.cfg.Limiter != nil {
		if wait, err := s.cfg.Limiter.Take(ctx, "sign-in:"+c.Addr, s.cfg.SignInRate, now); err != nil {
			return SignIn{}, err
		} else if wait > 0 {
			s.metrics.logins.WithLabelValues("locked").Inc()
			return SignIn{}, &api.LimitError{By: "address, for sign-ins", Wait: wait}
		}
	}
	key := nameHash(email)
	if wait, err := s.locked(ctx, key, now); err != nil {
		return SignIn{}, err
	} else if wait > 0 {
		s.metrics.logins.WithLabelValues("locked").Inc()
		return SignIn{}, lockedError(wait)
	}
	u, err := s.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return SignIn{}, err
	}
	if len(pw) > MaxPassword {
		pw = pw[:MaxPassword] // the same cost as any other; it cannot match
	}
	ok, stale, err := s.hash.Check(ctx, u.Password, pw)
	if err != nil {
		return SignIn{}, fmt.Errorf("check password: %w", err)
	}
	if !ok {
		s.metrics.logins.WithLabelValues("failed").Inc()
		if err := s.failed(ctx, key, now); err != nil {
			return SignIn{}, err
		}
		// The entry names the person only if there is one; never the name tried.
		if _, err := s.audit.Record(ctx, audit.Entry{Org: PlatformOrg, Actor: u.ID, Action: "login.failed", Addr: c.Addr}); err != nil {
			return SignIn{}, err
		}
		return SignIn{}, ErrLoginFailed
	}
	if err := s.succeeded(ctx, key); err != nil {
		return SignIn{}, err
	}
	if stale {
		if enc, err := s.hash.Hash(ctx, pw); err == nil {
			_, _ = s.db.ExecContext(ctx, `UPDATE users SET password = $1 WHERE id = $2`, enc, u.ID)
		}
	}
	if u.TOTPEnabled {
		s.metrics.logins.WithLabelValues("pending").Inc()
		return s.startSession(ctx, u, "", "", true, c, "login.password")
	}
	s.metrics.logins.WithLabelValues("ok").Inc()
	return s.startSession(ctx, u, "", "", false, c, "login")
}

// startSession makes a new session of u in org (by default their first
// organisation) and records action. A new session always has a new
// secret: a sign-in never keeps a session ID the browser had (session
// fixation).
func (s *Service) startSession(ctx context.Context, u User, org, delegation string, pending bool, c Client, action string) (SignIn, error) {
	now := s.now()
	if org == "" && !pending {
		ms, err := s.Memberships(ctx, u.ID)
		if err != nil {
			return SignIn{}, err
		}
		if len(ms) > 0 {
			org = ms[0].Org
		}
	}
	sess := Session{ID: newID("ses_"), User: u.ID, Org: org, Delegation: delegation, Pending: pending, Created: now, Seen: now,
		Expires: now.Add(s.cfg.SessionMax), Addr: c.Addr, Agent: truncate(c.Agent, 200)}
	if pending {
		sess.Expires = now.Add(PendingTTL)
	}
	if !meta.Text(sess.Agent) {
		sess.Agent = ""
	}
	sec := secret.New(secret.PrefixSession)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (hash, id, user_id, org, delegation, pending, created, seen, expires, addr, agent)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			secret.Hash(sec), sess.ID, sess.User, sess.Org, sess.Delegation, sess.Pending, meta.Nanos(now), meta.Nanos(now), meta.Nanos(sess.Expires), sess.Addr, sess.Agent); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		if !pending {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET last_login = $1 WHERE id = $2`, meta.Nanos(now), u.ID); err != nil {
				return err
			}
		}
		_, err := s.audit.RecordTx(ctx, tx, audit.Entry{Org: PlatformOrg, Actor: u.ID, Action: action, Target: sess.ID, Addr: c.Addr,
			Detail: map[string]string{"org": org}})
		return err
	})
	if err != nil {
		return SignIn{}, err
	}
	return SignIn{Secret: sec, Session: sess, Pending: pending}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

const sessionColumns = `id, user_id, org, delegation, pending, created, seen, expires, addr, agent`

func scanSession(sc interface{ Scan(...any) error }) (Session, error) {
	var ss Session
	var created, seen, expires int64
	if err := sc.Scan(&ss.ID, &ss.User, &ss.Org, &ss.Delegation, &ss.Pending, &created, &seen, &expires, &ss.Addr, &ss.Agent); err != nil {
		return Session{}, meta.Found(err)
	}
	ss.Created, ss.Seen, ss.Expires = meta.Time(created), meta.Time(seen), meta.Time(expires)
	return ss, nil
}

// session returns the live session with secret sec: not past its absolute
// end, not idle longer than SessionIdle. A dead one is deleted.
func (s *Service) session(ctx context.Context, sec string) (Session, error) {
	if !strings.HasPrefix(sec, secret.PrefixSession) || !meta.Text(sec) {
		return Session{}, api.ErrUnauthenticated
	}
	h := secret.Hash(sec)
	ss, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE hash = $1`, h))
	if errors.Is(err, meta.ErrNotFound) {
		return Session{}, api.ErrUnauthenticated
	}
	if err != nil {
		return Session{}, fmt.Errorf("look up session: %w", err)
	}
	now := s.now()
	if !now.Before(ss.Expires) || !ss.Pending && now.Sub(ss.Seen) >= s.cfg.SessionIdle {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = $1`, h); err != nil {
			return Session{}, fmt.Errorf("end session: %w", err)
		}
		return Session{}, api.ErrUnauthenticated
	}
	return ss, nil
}

// csrfToken is the CSRF token of the session with secret sec: derived from
// the secret, so it is never stored, and only a page of the hub, which
// reads it from GET /api/v1/me, knows it.
func csrfToken(sec string) string {
	m := hmac.New(sha256.New, []byte(sec))
	m.Write([]byte("molen csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

// AuthenticateSession implements api.SessionAuthenticator: a live,
// complete session of a person, with their role in the session's
// organisation (or what a delegation allows there), and its CSRF token.
func (s *Service) AuthenticateSession(ctx context.Context, sec string) (api.Principal, string, error) {
	ss, err := s.session(ctx, sec)
	if err != nil {
		return api.Principal{}, "", err
	}
	if ss.Pending {
		return api.Principal{}, "", api.ErrUnauthenticated
	}
	p, err := s.principal(ctx, ss)
	if err != nil {
		return api.Principal{}, "", err
	}
	if now := s.now(); now.Sub(ss.Seen) > touchEvery {
		if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET seen = $1 WHERE id = $2`, meta.Nanos(now), ss.ID); err != nil {
			s.log.Warn("session use not recorded", "session", ss.ID, "err", err)
		}
	}
	return p, csrfToken(sec), nil
}

// principal is who a session's person is, in its organisation.
func (s *Service) principal(ctx context.Context, ss Session) (api.Principal, error) {
	p := api.Principal{User: ss.User, Name: ss.User, Session: ss.ID}
	if ss.Org == "" {
		return p, nil
	}
	p.Org = ss.Org
	if ss.Delegation != "" {
		d, err := s.activeDelegation(ctx, ss.Delegation, ss.User, ss.Org)
		if errors.Is(err, meta.ErrNotFound) {
			return api.Principal{}, api.ErrUnauthenticated // consent withdrawn or ended: sign in again
		}
		if err != nil {
			return api.Principal{}, err
		}
		p.Role, p.Via, p.Delegation = d.Role, d.Via, d.ID
	} else {
		role, err := s.membership(ctx, ss.User, ss.Org)
		switch {
		case errors.Is(err, meta.ErrNotFound):
			// Removed from the organisation: the person is still signed in,
			// for their own account, in none.
			p.Org = ""
			return p, nil
		case err != nil:
			return api.Principal{}, err
		}
		p.Role = role
	}
	if err := s.complete(ctx, &p); err != nil {
		return api.Principal{}, err
	}
	return p, nil
}

// SecondFactor completes a pending sign-in with a TOTP code: the pending
// session ends and a new one starts. Wrong codes count towards the
// person's lockout like wrong passwords.
func (s *Service) SecondFactor(ctx context.Context, pendingSecret, code string, c Client) (SignIn, error) {
	ss, err := s.session(ctx, pendingSecret)
	if err != nil || !ss.Pending {
		return SignIn{}, api.ErrUnauthenticated
	}
	u, err := s.User(ctx, ss.User)
	if err != nil {
		return SignIn{}, api.ErrUnauthenticated
	}
	now := s.now()
	key := nameHash(u.Email)
	if wait, err := s.locked(ctx, key, now); err != nil {
		return SignIn{}, err
	} else if wait > 0 {
		s.metrics.logins.WithLabelValues("locked").Inc()
		return SignIn{}, lockedError(wait)
	}
	if err := s.checkCode(ctx, u, code, now); err != nil {
		s.metrics.logins.WithLabelValues("second_factor_failed").Inc()
		if ferr := s.failed(ctx, key, now); ferr != nil {
			return SignIn{}, ferr
		}
		if _, aerr := s.audit.Record(ctx, audit.Entry{Org: PlatformOrg, Actor: u.ID, Action: "login.second_factor_failed", Addr: c.Addr}); aerr != nil {
			return SignIn{}, aerr
		}
		return SignIn{}, err
	}
	if err := s.succeeded(ctx, key); err != nil {
		return SignIn{}, err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, ss.ID); err != nil {
		return SignIn{}, err
	}
	s.metrics.logins.WithLabelValues("ok").Inc()
	return s.startSession(ctx, u, "", "", false, c, "login")
}

var totpOpts = totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// checkCode accepts a TOTP code of u for the time step of now or the one
// before or after (clock drift), once: a step at or before the last
// accepted one is refused, so an overheard code cannot be replayed.
func (s *Service) checkCode(ctx context.Context, u User, code string, now time.Time) error {
	if u.TOTPSecret == "" || len(code) != 6 {
		return errSecondFactor
	}
	step := now.Unix() / 30
	for d := int64(-1); d <= 1; d++ {
		want, err := totp.GenerateCodeCustom(u.TOTPSecret, time.Unix((step+d)*30, 0), totpOpts)
		if err != nil {
			return fmt.Errorf("second factor: %w", err)
		}
		if !hmac.Equal([]byte(want), []byte(code)) {
			continue
		}
		err = meta.Changed(s.db.ExecContext(ctx, `UPDATE users SET totp_last = $1 WHERE id = $2 AND totp_last < $1`, step+d, u.ID))
		if errors.Is(err, meta.ErrNotFound) {
			return errSecondFactor // used already
		}
		return err
	}
	return errSecondFactor
}

// Logout ends the session with secret sec.
func (s *Service) Logout(ctx context.Context, p api.Principal, addr string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, p.Session); err != nil {
			return err
		}
		_, err := s.audit.RecordTx(ctx, tx, audit.Entry{Org: PlatformOrg, Actor: p.User, Action: "logout", Target: p.Session, Addr: addr})
		return err
	})
}

// Sessions lists the live sessions of user, newest first.
func (s *Service) Sessions(ctx context.Context, user string) ([]Session, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE user_id = $1 AND NOT pending AND expires > $2 AND seen > $3 ORDER BY created DESC`,
		user, meta.Nanos(s.now()), meta.Nanos(s.now().Add(-s.cfg.SessionIdle)))
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		ss, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("sessions: %w", err)
		}
		out = append(out, ss)
	}
	return out, rows.Err()
}

// EndSession ends one session of p's person.
func (s *Service) EndSession(ctx context.Context, p api.Principal, id, addr string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		err := error(meta.ErrNotFound)
		if meta.Text(id) {
			err = meta.Changed(tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1 AND user_id = $2`, id, p.User))
		}
		if err != nil {
			return fmt.Errorf("session %s: %w", id, err)
		}
		_, err = s.audit.RecordTx(ctx, tx, audit.Entry{Org: PlatformOrg, Actor: p.User, Action: "session.ended", Target: id, Addr: addr})
		return err
	})
}

// Switch moves p's session to org, where the person is a member, or acts
// by a company's consent (a delegation to them): the old session ends and
// a new one starts, so a change of rights always comes with a new secret.
func (s *Service) Switch(ctx context.Context, p api.Principal, org string, c Client) (SignIn, error) {
	u, err := s.User(ctx, p.User)
	if err != nil {
		return SignIn{}, err
	}
	var d Delegation
	if _, err := s.membership(ctx, p.User, org); errors.Is(err, meta.ErrNotFound) {
		if d, err = s.delegationFor(ctx, p.User, org); err != nil {
			return SignIn{}, fmt.Errorf("organisation %s: %w", org, err)
		}
	} else if err != nil {
		return SignIn{}, err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, p.Session); err != nil {
		return SignIn{}, err
	}
	action := "session.switched"
	if d.ID != "" {
		action = "delegation.started"
	}
	in, err := s.startSession(ctx, u, org, d.ID, false, c, action)
	if err != nil {
		return SignIn{}, err
	}
	if d.ID != "" {
		// In the company's log too: it sees who acts for it.
		if _, err := s.audit.Record(ctx, audit.Entry{Org: org, Actor: u.ID, ActorOrg: d.Via, Action: "delegation.started",
			Target: d.ID, Addr: c.Addr}); err != nil {
			return SignIn{}, err
		}
	}
	return in, nil
}

// ChangePassword sets a new password for p's person after checking the
// current one (a person without one, from an identity provider, sets a
// first one by a reset link). Their other sessions end.
func (s *Service) ChangePassword(ctx context.Context, p api.Principal, current, next string, addr string) error {
	u, err := s.User(ctx, p.User)
	if err != nil {
		return err
	}
	if err := s.confirm(ctx, u, current); err != nil {
		return err
	}
	return s.setPassword(ctx, u, next, p.Session, addr, "password.changed", false)
}

// setPassword stores a new password of u and ends u's sessions but keep.
func (s *Service) setPassword(ctx context.Context, u User, pw, keep, addr, action string, dropTOTP bool) error {
	if err := checkNewPassword(pw, u.Email); err != nil {
		return err
	}
	enc, err := s.hash.Hash(ctx, pw)
	if err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		return s.setPasswordTx(ctx, tx, u, enc, keep, addr, action, dropTOTP)
	})
}

func (s *Service) setPasswordTx(ctx context.Context, tx *sql.Tx, u User, enc, keep, addr, action string, dropTOTP bool) error {
	q := `UPDATE users SET password = $1, password_changed = $2 WHERE id = $3`
	if dropTOTP {
		q = `UPDATE users SET password = $1, password_changed = $2, totp_enabled = FALSE, totp_secret = '' WHERE id = $3`
	}
	if _, err := tx.ExecContext(ctx, q, enc, meta.Nanos(s.now()), u.ID); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, u.ID, keep); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE name_hash = $1`, nameHash(u.Email)); err != nil {
		return err
	}
	_, err := s.audit.RecordTx(ctx, tx, audit.Entry{Org: PlatformOrg, Actor: u.ID, Action: action, Addr: addr,
		Detail: map[string]string{"second_factor_removed": fmt.Sprint(dropTOTP)}})
	return err
}

// BeginTOTP makes a new TOTP secret for p's person, not yet in force, and
// returns it with its otpauth:// URI (for a QR code); ConfirmTOTP with a
// code from the app puts it in force.
func (s *Service) BeginTOTP(ctx context.Context, p api.Principal, issuer string) (secretB32, uri string, err error) {
	u, err := s.User(ctx, p.User)
	if err != nil {
		return "", "", err
	}
	if u.TOTPEnabled {
		return "", "", api.BadRequest("a second factor is set up already: remove it first")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: u.Email})
	if err != nil {
		return "", "", fmt.Errorf("second factor: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET totp_secret = $1, totp_last = 0 WHERE id = $2`, key.Secret(), u.ID); err != nil {
		return "", "", err
	}
	return key.Secret(), key.URL(), nil
}

// ConfirmTOTP puts the second factor begun by BeginTOTP in force, given a
// current code.
func (s *Service) ConfirmTOTP(ctx context.Context, p api.Principal, code, addr string) error {
	u, err := s.User(ctx, p.User)
	if err != nil {
		return err
	}
	if u.TOTPEnabled || u.TOTPSecret == "" {
		return api.BadRequest("no second factor is being set up: begin with POST /api/v1/me/totp")
	}
	if err := s.checkCode(ctx, u, code, s.now()); err != nil {
		return api.BadRequest("code: wrong; check the time on the device")
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET totp_enabled = TRUE WHERE id = $1`, u.ID); err != nil {
			return err
		}
		_, err := s.audit.RecordTx(ctx, tx, audit.Entry{Org: PlatformOrg, Actor: u.ID, Action: "second_factor.enabled", Addr: addr})
		return err
	})
}

// RemoveTOTP removes p's person's second factor, given their password.
func (s *Service) RemoveTOTP(ctx context.Context, p api.Principal, pw, addr string) error {
	u, err := s.User(ctx, p.User)
	if err != nil {
		return err
	}
	if err := s.confirm(ctx, u, pw); err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET totp_enabled = FALSE, totp_secret = '' WHERE id = $1`, u.ID); err != nil {
			return err
		}
		_, err := s.audit.RecordTx(ctx, tx, audit.Entry{Org: PlatformOrg, Actor: u.ID, Action: "second_factor.removed", Addr: addr})
		return err
	})
}

// AcceptInvitation spends an invitation: a person new to the hub is made
// with name and password; a person who has an account with the
// invitation's email proves it with their password (or is the signed-in
// person of signedIn). Either way they become a member with the
// invitation's role and are signed in.
func (s *Service) AcceptInvitation(ctx context.Context, sec, name, pw string, signedIn *api.Principal, c Client) (SignIn, error) {
	var u User
	var org string
	var enc string
	l, err := s.peekLink(ctx, linkInvite, sec)
	if err != nil {
		s.metrics.refused.WithLabelValues(linkInvite).Inc()
		return SignIn{}, err
	}
	existing, err := s.UserByEmail(ctx, l.Email)
	switch {
	case err == nil && signedIn != nil && signedIn.User == existing.ID:
	case err == nil:
		if cerr := s.confirm(ctx, existing, pw); errors.Is(cerr, api.ErrForbidden) {
			return SignIn{}, fmt.Errorf("%w: there is an account with this email: give its password, or sign in first", api.ErrForbidden)
		} else if cerr != nil {
			return SignIn{}, cerr
		}
	case errors.Is(err, meta.ErrNotFound):
		if err := checkName(name); err != nil {
			return SignIn{}, err
		}
		if strings.TrimSpace(name) == "" {
			return SignIn{}, api.BadRequest("name: required")
		}
		if err := checkNewPassword(pw, l.Email); err != nil {
			return SignIn{}, err
		}
		if enc, err = s.hash.Hash(ctx, pw); err != nil {
			return SignIn{}, err
		}
	default:
		return SignIn{}, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		l, err := s.spendLink(ctx, tx, linkInvite, sec)
		if err != nil {
			return err
		}
		org = l.Org
		if existing.ID != "" {
			u = existing
		} else {
			now := s.now()
			u = User{Email: l.Email, Name: strings.TrimSpace(name), Password: enc, Created: now, PasswordChanged: now}
			if err := createUser(ctx, tx, &u); err != nil {
				return fmt.Errorf("create user: %w", err)
			}
		}
		if err := s.addMember(ctx, tx, u.ID, l.Org, l.Role); err != nil {
			return err
		}
		_, err = s.audit.RecordTx(ctx, tx, audit.Entry{Org: l.Org, Actor: u.ID, Action: "member.added", Target: u.ID, Addr: c.Addr,
			Detail: map[string]string{"role": string(l.Role), "invitation": l.ID}})
		return err
	})
	if err != nil {
		if errors.Is(err, errLink) {
			s.metrics.refused.WithLabelValues(linkInvite).Inc()
		}
		return SignIn{}, err
	}
	return s.startSession(ctx, u, org, "", u.TOTPEnabled, c, "login.invitation")
}

// Reset spends a password reset link: the person gets pw as their
// password (and loses their second factor if the link says so), every
// session of theirs ends, and they are signed in.
func (s *Service) Reset(ctx context.Context, sec, pw string, c Client) (SignIn, error) {
	l, err := s.peekLink(ctx, linkReset, sec)
	if err != nil {
		s.metrics.refused.WithLabelValues(linkReset).Inc()
		return SignIn{}, err
	}
	u, err := s.User(ctx, l.User)
	if err != nil {
		return SignIn{}, errLink
	}
	if err := checkNewPassword(pw, u.Email); err != nil {
		return SignIn{}, err
	}
	enc, err := s.hash.Hash(ctx, pw)
	if err != nil {
		return SignIn{}, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		l, err := s.spendLink(ctx, tx, linkReset, sec)
		if err != nil {
			return err
		}
		return s.setPasswordTx(ctx, tx, u, enc, "", c.Addr, "password.reset", l.Role == "totp")
	})
	if err != nil {
		if errors.Is(err, errLink) {
			s.metrics.refused.WithLabelValues(linkReset).Inc()
		}
		return SignIn{}, err
	}
	u.TOTPEnabled = u.TOTPEnabled && l.Role != "totp"
	return s.startSession(ctx, u, l.Org, "", u.TOTPEnabled, c, "login.reset")
}

// UseLoginLink spends a sign-in link. A person with a second factor still
// gives it.
func (s *Service) UseLoginLink(ctx context.Context, sec string, c Client) (SignIn, error) {
	var l Link
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		l, err = s.spendLink(ctx, tx, linkLogin, sec)
		return err
	})
	if err != nil {
		s.metrics.refused.WithLabelValues(linkLogin).Inc()
		return SignIn{}, err
	}
	u, err := s.User(ctx, l.User)
	if err != nil {
		return SignIn{}, errLink
	}
	return s.startSession(ctx, u, "", "", u.TOTPEnabled, c, "login.link")
}
