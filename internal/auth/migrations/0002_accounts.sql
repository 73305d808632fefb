-- People, memberships, sessions, one-time links, API tokens with scopes,
-- grants and delegations. Times are unix ns, 0 for none; secrets are
-- stored as hex SHA-256 hashes, passwords as argon2id strings.

-- Organisations form a tree: the platform holds hubs, a hub its
-- fieldlabs and companies. '' is the root.
ALTER TABLE orgs ADD COLUMN parent TEXT NOT NULL DEFAULT '';

-- API tokens get an ID to list and revoke them by, an owner (a person's
-- user ID; '' for a service account, whose role is the token's own),
-- scopes, an expiry, a last use and a revocation time. The table is made
-- anew (an adopted table of an embedded store cannot take BIGINT
-- columns); earlier tokens were service accounts: admin tokens keep every
-- scope, viewers read.
CREATE TABLE api_tokens (
	hash       TEXT   NOT NULL PRIMARY KEY,
	id         TEXT   NOT NULL,
	org        TEXT   NOT NULL,
	user_id    TEXT   NOT NULL,
	role       TEXT   NOT NULL,
	name       TEXT   NOT NULL,
	scopes     TEXT   NOT NULL,
	created    BIGINT NOT NULL,
	created_by TEXT   NOT NULL,
	expires    BIGINT NOT NULL,
	last_used  BIGINT NOT NULL,
	revoked    BIGINT NOT NULL
);
CREATE UNIQUE INDEX api_tokens_by_id ON api_tokens (id);
CREATE INDEX api_tokens_by_org ON api_tokens (org, user_id);
INSERT INTO api_tokens (hash, id, org, user_id, role, name, scopes, created, created_by, expires, last_used, revoked)
	SELECT hash, 'tok_' || substr(hash, 1, 20), org, '', role, name,
		CASE WHEN role = 'viewer' THEN 'read' ELSE 'admin' END, created, '', 0, 0, 0
	FROM tokens;
DROP TABLE tokens;

-- email is stored lowercase. password is an argon2id string ('' for a
-- person who signs in only through an identity provider); totp_last is
-- the last time step a code was accepted for, so a code works once.
CREATE TABLE IF NOT EXISTS users (
	id               TEXT    NOT NULL PRIMARY KEY,
	email            TEXT    NOT NULL,
	name             TEXT    NOT NULL,
	password         TEXT    NOT NULL,
	totp_secret      TEXT    NOT NULL,
	totp_enabled     BOOLEAN NOT NULL,
	totp_last        BIGINT  NOT NULL,
	oidc_issuer      TEXT    NOT NULL,
	oidc_subject     TEXT    NOT NULL,
	created          BIGINT  NOT NULL,
	password_changed BIGINT  NOT NULL,
	last_login       BIGINT  NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS users_by_email ON users (email);
CREATE UNIQUE INDEX IF NOT EXISTS users_by_oidc ON users (oidc_issuer, oidc_subject) WHERE oidc_subject <> '';

-- One role per person and organisation.
CREATE TABLE IF NOT EXISTS memberships (
	user_id TEXT   NOT NULL,
	org     TEXT   NOT NULL,
	role    TEXT   NOT NULL,
	created BIGINT NOT NULL,
	PRIMARY KEY (user_id, org)
);
CREATE INDEX IF NOT EXISTS memberships_by_org ON memberships (org);

-- One-time links: kind 'invite' (to org with role, for email), 'reset'
-- (a new password for user_id; role 'totp' also removes the second
-- factor) and 'login' (signs user_id in). used is when it was spent.
CREATE TABLE IF NOT EXISTS links (
	hash       TEXT   NOT NULL PRIMARY KEY,
	id         TEXT   NOT NULL,
	kind       TEXT   NOT NULL,
	org        TEXT   NOT NULL,
	role       TEXT   NOT NULL,
	email      TEXT   NOT NULL,
	user_id    TEXT   NOT NULL,
	created_by TEXT   NOT NULL,
	created    BIGINT NOT NULL,
	expires    BIGINT NOT NULL,
	used       BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS links_by_id ON links (id);
CREATE INDEX IF NOT EXISTS links_by_org ON links (org, kind);

-- Browser sessions. org is the organisation the person acts in; with a
-- delegation, by a company's consent. pending: the password was right,
-- the second factor is still due. expires is the absolute end; seen the
-- last request (idle timeout).
CREATE TABLE IF NOT EXISTS sessions (
	hash       TEXT    NOT NULL PRIMARY KEY,
	id         TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	org        TEXT    NOT NULL,
	delegation TEXT    NOT NULL,
	pending    BOOLEAN NOT NULL,
	created    BIGINT  NOT NULL,
	seen       BIGINT  NOT NULL,
	expires    BIGINT  NOT NULL,
	addr       TEXT    NOT NULL,
	agent      TEXT    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS sessions_by_id ON sessions (id);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);

-- Failed sign-ins by a hash of the name tried (whether or not a person
-- has it), for back-off and lockout.
CREATE TABLE IF NOT EXISTS login_failures (
	name_hash    TEXT   NOT NULL PRIMARY KEY,
	failures     BIGINT NOT NULL,
	locked_until BIGINT NOT NULL,
	last         BIGINT NOT NULL
);

-- Read access org gives grantee: data of kind under prefix.
CREATE TABLE IF NOT EXISTS grants (
	id         TEXT   NOT NULL PRIMARY KEY,
	org        TEXT   NOT NULL,
	grantee    TEXT   NOT NULL,
	kind       TEXT   NOT NULL,
	prefix     TEXT   NOT NULL,
	created_by TEXT   NOT NULL,
	created    BIGINT NOT NULL,
	expires    BIGINT NOT NULL,
	revoked    BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS grants_by_org ON grants (org);
CREATE INDEX IF NOT EXISTS grants_by_grantee ON grants (grantee);

-- A company's consent that an advisor (a person of the hub via) acts for
-- it with role until expires.
CREATE TABLE IF NOT EXISTS delegations (
	id         TEXT   NOT NULL PRIMARY KEY,
	org        TEXT   NOT NULL,
	advisor    TEXT   NOT NULL,
	via        TEXT   NOT NULL,
	role       TEXT   NOT NULL,
	created_by TEXT   NOT NULL,
	created    BIGINT NOT NULL,
	expires    BIGINT NOT NULL,
	revoked    BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS delegations_by_org ON delegations (org);
CREATE INDEX IF NOT EXISTS delegations_by_advisor ON delegations (advisor);
