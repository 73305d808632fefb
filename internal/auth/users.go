package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/secret"
)

// User is a person. People are named in the audit log by ID only, which
// stays as a pseudonym when their profile is erased.
type User struct {
	ID              string
	Email           string // lowercase
	Name            string
	Password        string // argon2id string; "" for none
	TOTPSecret      string // base32; set while enrolling and once enabled
	TOTPEnabled     bool
	TOTPLast        int64 // the last time step a code was accepted for
	OIDCIssuer      string
	OIDCSubject     string
	Created         time.Time
	PasswordChanged time.Time
	LastLogin       time.Time
}

// Membership is a person's role in an organisation.
type Membership struct {
	User    string
	Org     string
	Role    api.Role
	Created time.Time
}

const userColumns = `id, email, name, password, totp_secret, totp_enabled, totp_last, oidc_issuer, oidc_subject, created, password_changed, last_login`

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var u User
	var created, changed, login int64
	if err := sc.Scan(&u.ID, &u.Email, &u.Name, &u.Password, &u.TOTPSecret, &u.TOTPEnabled, &u.TOTPLast,
		&u.OIDCIssuer, &u.OIDCSubject, &created, &changed, &login); err != nil {
		return User{}, meta.Found(err)
	}
	u.Created, u.PasswordChanged, u.LastLogin = meta.Time(created), meta.Time(changed), meta.Time(login)
	return u, nil
}

// normalEmail checks an email address and returns it lowercase.
func normalEmail(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != strings.TrimSpace(s) || len(s) > 254 || !meta.Text(s) {
		return "", api.BadRequest("email: %.64q is not an email address", s)
	}
	return strings.ToLower(a.Address), nil
}

func checkName(name string) error {
	if len(name) > 200 || !meta.Text(name) || strings.ContainsAny(name, "\r\n") {
		return api.BadRequest("name: at most 200 characters of text on one line")
	}
	return nil
}

// createUser stores u (with a new ID unless it has one); meta.ErrExists if
// its email is taken.
func createUser(ctx context.Context, db execer, u *User) error {
	if u.ID == "" {
		u.ID = newID("usr_")
	}
	if err := meta.CheckText(u.ID, u.Email, u.Name, u.Password, u.TOTPSecret, u.OIDCIssuer, u.OIDCSubject); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		u.ID, u.Email, u.Name, u.Password, u.TOTPSecret, u.TOTPEnabled, u.TOTPLast, u.OIDCIssuer, u.OIDCSubject,
		meta.Nanos(u.Created), meta.Nanos(u.PasswordChanged), meta.Nanos(u.LastLogin))
	if meta.Unique(err) {
		return meta.ErrExists
	}
	return err
}

// CreateUser stores a person with password pw ("" for none: they sign in
// through an identity provider or a link); meta.ErrExists if the email is
// taken.
func (s *Service) CreateUser(ctx context.Context, email, name, pw string) (User, error) {
	email, err := normalEmail(email)
	if err != nil {
		return User{}, err
	}
	if err := checkName(name); err != nil {
		return User{}, err
	}
	u := User{Email: email, Name: name, Created: s.now()}
	if pw != "" {
		if err := checkNewPassword(pw, email); err != nil {
			return User{}, err
		}
		if u.Password, err = s.hash.Hash(ctx, pw); err != nil {
			return User{}, err
		}
		u.PasswordChanged = u.Created
	}
	if err := createUser(ctx, s.db, &u); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// User returns a person by ID, or meta.ErrNotFound.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	return userBy(ctx, s.db, "id", id)
}

// UserByEmail returns a person by email address, or meta.ErrNotFound.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	return userBy(ctx, s.db, "email", strings.ToLower(strings.TrimSpace(email)))
}

func userBy(ctx context.Context, db execer, col, v string) (User, error) {
	u, err := User{}, error(meta.ErrNotFound)
	if meta.Text(v) && v != "" {
		u, err = scanUser(db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+col+` = $1`, v))
	}
	if err != nil {
		return User{}, fmt.Errorf("user: %w", err)
	}
	return u, nil
}

// AddMember gives user role in org, replacing any role they had there.
func (s *Service) AddMember(ctx context.Context, user, org string, role api.Role) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error { return s.addMember(ctx, tx, user, org, role) })
}

func (s *Service) addMember(ctx context.Context, db execer, user, org string, role api.Role) error {
	if err := s.checkRoleFits(ctx, db, org, role); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, `INSERT INTO memberships (user_id, org, role, created) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, org) DO UPDATE SET role = excluded.role`, user, org, string(role), meta.Nanos(s.now()))
	if err != nil {
		return fmt.Errorf("add %s to %s: %w", user, org, err)
	}
	return nil
}

// checkRoleFits refuses a role the kind of org does not have:
// platform-admin only in the platform organisation, advisor only in a hub,
// publisher only at a provider.
func (s *Service) checkRoleFits(ctx context.Context, db execer, org string, role api.Role) error {
	if !role.Valid() {
		return api.BadRequest("role: %q: want one of %v", role, api.MemberRoles)
	}
	var kind string
	if err := meta.Found(db.QueryRowContext(ctx, `SELECT kind FROM orgs WHERE id = $1`, org).Scan(&kind)); err != nil {
		return fmt.Errorf("organisation %s: %w", org, err)
	}
	need := map[api.Role]OrgKind{api.RolePlatformAdmin: Platform, api.RoleAdvisor: Hub, api.RolePublisher: Provider}[role]
	if need != "" && OrgKind(kind) != need {
		return api.BadRequest("role: %s is a role in a %s organisation, and this one is a %s", role, need, kind)
	}
	return nil
}

// membership returns the role of user in org, or meta.ErrNotFound.
func (s *Service) membership(ctx context.Context, user, org string) (api.Role, error) {
	var role string
	err := error(meta.ErrNotFound)
	if meta.Text(user) && meta.Text(org) {
		err = meta.Found(s.db.QueryRowContext(ctx, `SELECT role FROM memberships WHERE user_id = $1 AND org = $2`, user, org).Scan(&role))
	}
	return api.Role(role), err
}

// Memberships returns the organisations user belongs to, by organisation.
func (s *Service) Memberships(ctx context.Context, user string) ([]Membership, error) {
	return s.memberships(ctx, `user_id = $1`, user)
}

// Members returns the members of org, by user ID.
func (s *Service) Members(ctx context.Context, org string) ([]Membership, error) {
	return s.memberships(ctx, `org = $1`, org)
}

func (s *Service) memberships(ctx context.Context, where, v string) ([]Membership, error) {
	if !meta.Text(v) {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT user_id, org, role, created FROM memberships WHERE `+where, v)
	if err != nil {
		return nil, fmt.Errorf("memberships: %w", err)
	}
	defer rows.Close()
	var out []Membership
	for rows.Next() {
		var m Membership
		var role string
		var created int64
		if err := rows.Scan(&m.User, &m.Org, &role, &created); err != nil {
			return nil, fmt.Errorf("memberships: %w", err)
		}
		m.Role, m.Created = api.Role(role), meta.Time(created)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memberships: %w", err)
	}
	slices.SortFunc(out, func(a, b Membership) int {
		return strings.Compare(a.Org+"\x00"+a.User, b.Org+"\x00"+b.User)
	})
	return out, nil
}

// errLastOwner refuses to leave an organisation without an owner.
var errLastOwner = fmt.Errorf("%w: the organisation's last owner stays: make another member owner first", api.ErrBadRequest)

// SetRole changes the role of a member of p's organisation. Only an owner
// makes or unmakes owners; the last owner stays one.
func (s *Service) SetRole(ctx context.Context, p api.Principal, user string, role api.Role, addr string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		old, err := roleIn(ctx, tx, user, p.Org)
		if err != nil {
			return err
		}
		if (old == api.RoleOwner || role == api.RoleOwner) && p.Role != api.RoleOwner {
			return fmt.Errorf("%w: only an owner makes or unmakes owners", api.ErrForbidden)
		}
		if role.Rank() > p.Role.Rank() {
			return fmt.Errorf("%w: you cannot give a role above your own", api.ErrForbidden)
		}
		if old == api.RoleOwner && role != api.RoleOwner {
			if err := notLastOwner(ctx, tx, p.Org); err != nil {
				return err
			}
		}
		if err := s.addMember(ctx, tx, user, p.Org, role); err != nil {
			return err
		}
		return s.record(ctx, tx, p, addr, "member.role", user, map[string]string{"role": string(role), "was": string(old)})
	})
}

func roleIn(ctx context.Context, db execer, user, org string) (api.Role, error) {
	var role string
	err := error(meta.ErrNotFound)
	if meta.Text(user) {
		err = meta.Found(db.QueryRowContext(ctx, `SELECT role FROM memberships WHERE user_id = $1 AND org = $2`, user, org).Scan(&role))
	}
	if err != nil {
		return "", fmt.Errorf("member %s of %s: %w", user, org, err)
	}
	return api.Role(role), nil
}

func notLastOwner(ctx context.Context, db execer, org string) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM memberships WHERE org = $1 AND role = $2`, org, string(api.RoleOwner)).Scan(&n); err != nil {
		return err
	}
	if n <= 1 {
		return errLastOwner
	}
	return nil
}

// RemoveMember removes user from p's organisation, with the tokens they
// made for it and the sessions in it. Only an owner removes an owner; the
// last owner stays.
func (s *Service) RemoveMember(ctx context.Context, p api.Principal, user, addr string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		old, err := roleIn(ctx, tx, user, p.Org)
		if err != nil {
			return err
		}
		if old == api.RoleOwner {
			if p.Role != api.RoleOwner {
				return fmt.Errorf("%w: only an owner removes an owner", api.ErrForbidden)
			}
			if err := notLastOwner(ctx, tx, p.Org); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE user_id = $1 AND org = $2`, user, p.Org); err != nil {
			return err
		}
		now := meta.Nanos(s.now())
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked = $1 WHERE user_id = $2 AND org = $3 AND revoked = 0`, now, user, p.Org); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND org = $2`, user, p.Org); err != nil {
			return err
		}
		return s.record(ctx, tx, p, addr, "member.removed", user, map[string]string{"role": string(old)})
	})
}

// record appends an audit entry of p's doing in p's organisation inside
// tx; with a delegation, also in the log of the acting person's own
// organisation, in the order of the organisations' IDs.
func (s *Service) record(ctx context.Context, tx *sql.Tx, p api.Principal, addr, action, target string, detail map[string]string) error {
	actor := p.User
	if actor == "" {
		actor = p.Token
	}
	e := audit.Entry{Org: p.Org, Actor: actor, ActorOrg: p.Via, Action: action, Target: target, Detail: detail, Addr: addr}
	entries := []audit.Entry{e}
	if p.Via != "" {
		m := e
		m.Org, m.ActorOrg = p.Via, ""
		m.Detail = map[string]string{"for": p.Org, "delegation": p.Delegation}
		for k, v := range detail {
			m.Detail[k] = v
		}
		entries = append(entries, m)
		slices.SortFunc(entries, func(a, b audit.Entry) int { return strings.Compare(a.Org, b.Org) })
	}
	for _, e := range entries {
		if _, err := s.audit.RecordTx(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

// Link kinds.
const (
	linkInvite = "invite"
	linkReset  = "reset"
	linkLogin  = "login"
)

// Link lifetimes.
const (
	InviteTTL = 7 * 24 * time.Hour
	ResetTTL  = 24 * time.Hour
	LoginTTL  = 24 * time.Hour
)

// Link is a one-time link: an invitation, a password reset or a sign-in.
// Only the hash of its secret is stored; the secret is in the URL, shown
// once.
type Link struct {
	ID        string
	Kind      string
	Org       string   // invite: where to
	Role      api.Role // invite: as what; reset: "totp" to remove the second factor too
	Email     string   // invite: for whom
	User      string   // reset, login: whose
	CreatedBy string
	Created   time.Time
	Expires   time.Time
	Used      time.Time
}

var linkPrefix = map[string]string{linkInvite: secret.PrefixInvite, linkReset: secret.PrefixReset, linkLogin: secret.PrefixLogin}

// newLink stores l with a new secret and returns the secret.
func (s *Service) newLink(ctx context.Context, db execer, l *Link) (string, error) {
	sec := secret.New(linkPrefix[l.Kind])
	l.ID, l.Created = newID("lnk_"), s.now()
	if err := meta.CheckText(l.Org, string(l.Role), l.Email, l.User, l.CreatedBy); err != nil {
		return "", err
	}
	_, err := db.ExecContext(ctx, `INSERT INTO links (hash, id, kind, org, role, email, user_id, created_by, created, expires, used)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0)`,
		secret.Hash(sec), l.ID, l.Kind, l.Org, string(l.Role), l.Email, l.User, l.CreatedBy, meta.Nanos(l.Created), meta.Nanos(l.Expires))
	if err != nil {
		return "", fmt.Errorf("create %s link: %w", l.Kind, err)
	}
	return sec, nil
}

// URL is the address of a link's page with its secret.
func (s *Service) URL(kind, sec string) string {
	base := ""
	if s.cfg.PublicURL != nil {
		base = strings.TrimSuffix(s.cfg.PublicURL(), "/")
	}
	return base + "/auth/" + kind + "?token=" + sec
}

const linkColumns = `id, kind, org, role, email, user_id, created_by, created, expires, used`

func scanLink(sc interface{ Scan(...any) error }) (Link, error) {
	var l Link
	var role string
	var created, expires, used int64
	if err := sc.Scan(&l.ID, &l.Kind, &l.Org, &role, &l.Email, &l.User, &l.CreatedBy, &created, &expires, &used); err != nil {
		return Link{}, meta.Found(err)
	}
	l.Role, l.Created, l.Expires, l.Used = api.Role(role), meta.Time(created), meta.Time(expires), meta.Time(used)
	return l, nil
}

// errLink is every unusable link: unknown, used, expired or of another
// kind alike.
var errLink = fmt.Errorf("%w: this link is unknown, used or expired: ask for a new one", api.ErrUnauthenticated)

// peekLink returns the unused, unexpired link of kind with secret sec.
func (s *Service) peekLink(ctx context.Context, kind, sec string) (Link, error) {
	if !strings.HasPrefix(sec, linkPrefix[kind]) || !meta.Text(sec) {
		return Link{}, errLink
	}
	l, err := scanLink(s.db.QueryRowContext(ctx, `SELECT `+linkColumns+` FROM links WHERE hash = $1 AND kind = $2 AND used = 0 AND expires > $3`,
		secret.Hash(sec), kind, meta.Nanos(s.now())))
	if errors.Is(err, meta.ErrNotFound) {
		return Link{}, errLink
	}
	return l, err
}

// spendLink marks the link used inside tx, in one statement that only an
// unused, unexpired link passes, so that of two uses at once one wins.
func (s *Service) spendLink(ctx context.Context, tx execer, kind, sec string) (Link, error) {
	if !strings.HasPrefix(sec, linkPrefix[kind]) || !meta.Text(sec) {
		return Link{}, errLink
	}
	now := meta.Nanos(s.now())
	l, err := scanLink(tx.QueryRowContext(ctx, `UPDATE links SET used = $1 WHERE hash = $2 AND kind = $3 AND used = 0 AND expires > $1 RETURNING `+linkColumns,
		now, secret.Hash(sec), kind))
	if errors.Is(err, meta.ErrNotFound) {
		return Link{}, errLink
	}
	return l, err
}

// Invite makes a one-time invitation to p's organisation with role for
// email and returns it with its secret. No one gives a role above their
// own; only owners invite owners.
func (s *Service) Invite(ctx context.Context, p api.Principal, email string, role api.Role, ttl time.Duration, addr string) (Link, string, error) {
	email, err := normalEmail(email)
	if err != nil {
		return Link{}, "", err
	}
	if role.Rank() > p.Role.Rank() || role == api.RoleOwner && p.Role != api.RoleOwner {
		return Link{}, "", fmt.Errorf("%w: you cannot invite to a role above your own", api.ErrForbidden)
	}
	return s.inviteTo(ctx, p, p.Org, email, role, ttl, addr)
}

func (s *Service) inviteTo(ctx context.Context, p api.Principal, org, email string, role api.Role, ttl time.Duration, addr string) (Link, string, error) {
	if ttl <= 0 || ttl > 30*24*time.Hour {
		ttl = InviteTTL
	}
	l := Link{Kind: linkInvite, Org: org, Role: role, Email: email, CreatedBy: actorOf(p), Expires: s.now().Add(ttl)}
	var sec string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.checkRoleFits(ctx, tx, org, role); err != nil {
			return err
		}
		var err error
		if sec, err = s.newLink(ctx, tx, &l); err != nil {
			return err
		}
		p := p
		p.Org = org
		return s.record(ctx, tx, p, addr, "invitation.created", l.ID, map[string]string{"role": string(role)})
	})
	if err != nil {
		return Link{}, "", err
	}
	return l, sec, nil
}

func actorOf(p api.Principal) string { return p.Actor() }

// Invitations lists the open invitations of org, newest first.
func (s *Service) Invitations(ctx context.Context, org string) ([]Link, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+linkColumns+` FROM links WHERE org = $1 AND kind = $2 AND used = 0 AND expires > $3 ORDER BY created DESC`,
		org, linkInvite, meta.Nanos(s.now()))
	if err != nil {
		return nil, fmt.Errorf("invitations of %s: %w", org, err)
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, fmt.Errorf("invitations of %s: %w", org, err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// RevokeInvitation spends an open invitation of p's organisation without
// using it.
func (s *Service) RevokeInvitation(ctx context.Context, p api.Principal, id, addr string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		err := error(meta.ErrNotFound)
		if meta.Text(id) {
			err = meta.Changed(tx.ExecContext(ctx, `UPDATE links SET used = $1, expires = $1 WHERE id = $2 AND org = $3 AND kind = $4 AND used = 0`,
				meta.Nanos(s.now()), id, p.Org, linkInvite))
		}
		if err != nil {
			return fmt.Errorf("invitation %s: %w", id, err)
		}
		return s.record(ctx, tx, p, addr, "invitation.revoked", id, nil)
	})
}

// ResetLink makes a one-time link that sets a new password for a member
// of p's organisation (and, with totp, removes their second factor). So
// that an admin of one organisation cannot take over a person who also
// belongs to another, the person must belong to p's organisation alone;
// and only an owner resets an owner. A platform admin resets anyone.
func (s *Service) ResetLink(ctx context.Context, p api.Principal, user string, totp bool, addr string) (Link, string, error) {
	role, err := roleIn(ctx, s.db, user, p.Org)
	if err != nil {
		return Link{}, "", err
	}
	if p.Role != api.RolePlatformAdmin {
		if role == api.RoleOwner && p.Role != api.RoleOwner {
			return Link{}, "", fmt.Errorf("%w: only an owner resets an owner's password", api.ErrForbidden)
		}
		ms, err := s.Memberships(ctx, user)
		if err != nil {
			return Link{}, "", err
		}
		if len(ms) != 1 {
			return Link{}, "", fmt.Errorf("%w: this person belongs to other organisations too; a platform admin resets their password", api.ErrForbidden)
		}
	}
	l := Link{Kind: linkReset, User: user, Org: p.Org, CreatedBy: actorOf(p), Expires: s.now().Add(ResetTTL)}
	if totp {
		l.Role = "totp"
	}
	var sec string
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if sec, err = s.newLink(ctx, tx, &l); err != nil {
			return err
		}
		return s.record(ctx, tx, p, addr, "password.reset.created", user, map[string]string{"link": l.ID, "totp": fmt.Sprint(totp)})
	})
	if err != nil {
		return Link{}, "", err
	}
	return l, sec, nil
}

// LoginLink makes a one-time link that signs user in (for the demo's
// admin, and for operators who set a hub up).
func (s *Service) LoginLink(ctx context.Context, user string, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		ttl = LoginTTL
	}
	l := Link{Kind: linkLogin, User: user, CreatedBy: "system", Expires: s.now().Add(ttl)}
	return s.newLink(ctx, s.db, &l)
}

// OperatorInvite makes an invitation as the hub's operator (the audit log
// names "operator"): for the first platform admin, and for organisations
// left without anyone who may invite.
func (s *Service) OperatorInvite(ctx context.Context, org, email string, role api.Role, ttl time.Duration) (string, error) {
	email, err := normalEmail(email)
	if err != nil {
		return "", err
	}
	_, sec, err := s.inviteTo(ctx, api.Principal{Org: org, Name: "operator", Token: "operator"}, org, email, role, ttl, "")
	return sec, err
}
