-- The marketplace (docs/services.md#the-marketplace). Times are unix ns.
-- Provider signing keys, registered to a provider organisation; id is
-- sign.KeyID of the key, public_key its PEM.
CREATE TABLE market_keys (
	id         TEXT   NOT NULL PRIMARY KEY,
	org        TEXT   NOT NULL,
	name       TEXT   NOT NULL,
	public_key TEXT   NOT NULL,
	created    BIGINT NOT NULL,
	created_by TEXT   NOT NULL,
	revoked    BIGINT NOT NULL DEFAULT 0
);
-- A listing is a service id, owned by the provider organisation that
-- published it first.
CREATE TABLE market_listings (
	id      TEXT   NOT NULL PRIMARY KEY,
	org     TEXT   NOT NULL,
	created BIGINT NOT NULL
);
-- A version of a listing: immutable content (the archive, kept by its
-- sha256 in the hub's directory, its manifest and the provider's
-- signature), and its state: draft, in-review, released, deprecated,
-- revoked. countersign is the platform's DSSE envelope once released.
CREATE TABLE market_versions (
	listing      TEXT   NOT NULL,
	version      TEXT   NOT NULL,
	sha256       TEXT   NOT NULL,
	size         BIGINT NOT NULL,
	manifest     TEXT   NOT NULL,
	signature    TEXT   NOT NULL,
	signer       TEXT   NOT NULL,
	countersign  TEXT   NOT NULL DEFAULT '',
	state        TEXT   NOT NULL,
	note         TEXT   NOT NULL DEFAULT '',
	published    BIGINT NOT NULL,
	published_by TEXT   NOT NULL,
	changed      BIGINT NOT NULL,
	changed_by   TEXT   NOT NULL,
	PRIMARY KEY (listing, version)
);
CREATE INDEX market_versions_by_sha ON market_versions (sha256);
-- An install of a version on an edge or a group of a company: its
-- parameters (secret ones are secrets of the fleet, named in secrets),
-- the series it takes, and the terms accepted (their sha256, by whom).
CREATE TABLE market_installs (
	org          TEXT   NOT NULL,
	name         TEXT   NOT NULL,
	listing      TEXT   NOT NULL,
	version      TEXT   NOT NULL,
	scope        TEXT   NOT NULL,
	target       TEXT   NOT NULL,
	params       TEXT   NOT NULL,
	secrets      TEXT   NOT NULL,
	match_globs  TEXT   NOT NULL,
	output       TEXT   NOT NULL,
	terms_sha256 TEXT   NOT NULL,
	accepted_by  TEXT   NOT NULL,
	created      BIGINT NOT NULL,
	updated      BIGINT NOT NULL,
	PRIMARY KEY (org, name)
);
CREATE INDEX market_installs_by_version ON market_installs (listing, version);
