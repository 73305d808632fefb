-- Secrets in the desired state and Margo clients (docs/fleet.md). Times
-- are unix ns.
-- fleet_secrets: a layer's secret values, each encrypted at rest with the
-- hub's secrets key (age, X25519): the hub's database alone reads none.
CREATE TABLE fleet_secrets (
	org     TEXT   NOT NULL,
	scope   TEXT   NOT NULL,
	target  TEXT   NOT NULL,
	name    TEXT   NOT NULL,
	sealed  TEXT   NOT NULL,
	updated BIGINT NOT NULL,
	PRIMARY KEY (org, scope, target, name)
);
-- edge_secret_seals: a secret as sealed for one edge's key, kept so that
-- the edge's manifest (and its digest) stays the same until the secret
-- (source: the digest of its row's sealed value) or the edge's key change.
CREATE TABLE edge_secret_seals (
	edge     TEXT NOT NULL,
	name     TEXT NOT NULL,
	source   TEXT NOT NULL,
	edge_key TEXT NOT NULL,
	sealed   TEXT NOT NULL,
	PRIMARY KEY (edge, name)
);
-- edge_margo: what a device that is a Margo client reported, by kind
-- ('capabilities', or 'status/<deploymentId>'): the document as JSON.
CREATE TABLE edge_margo (
	edge     TEXT   NOT NULL,
	org      TEXT   NOT NULL,
	kind     TEXT   NOT NULL,
	doc      TEXT   NOT NULL,
	reported BIGINT NOT NULL,
	PRIMARY KEY (edge, kind)
);
