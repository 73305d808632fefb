-- Edge keys (docs/adr/0008-edge-identity.md): the Ed25519 public key an
-- edge signs its requests with (base64url; '' for an edge that still
-- authenticates by credential), and the key it had before its last
-- change, accepted until prev_until (unix ns) so that requests signed
-- before the change still go through. The table is made anew: an
-- adopted table of an embedded store cannot take BIGINT columns.
CREATE TABLE edges_v2 (
	id             TEXT    NOT NULL PRIMARY KEY,
	org            TEXT    NOT NULL,
	name           TEXT    NOT NULL,
	enroll_hash    TEXT    NOT NULL,
	enroll_expires BIGINT  NOT NULL,
	cred_hash      TEXT    NOT NULL,
	revoked        BOOLEAN NOT NULL,
	created        BIGINT  NOT NULL,
	enrolled       BIGINT  NOT NULL,
	pubkey         TEXT    NOT NULL,
	prev_key       TEXT    NOT NULL,
	prev_until     BIGINT  NOT NULL
);
INSERT INTO edges_v2 (id, org, name, enroll_hash, enroll_expires, cred_hash, revoked, created, enrolled, pubkey, prev_key, prev_until)
	SELECT id, org, name, enroll_hash, enroll_expires, cred_hash, revoked, created, enrolled, '', '', 0 FROM edges;
DROP TABLE edges;
ALTER TABLE edges_v2 RENAME TO edges;
CREATE INDEX edges_by_org ON edges (org, id);
CREATE UNIQUE INDEX edges_by_enroll ON edges (enroll_hash) WHERE enroll_hash <> '';
CREATE UNIQUE INDEX edges_by_cred ON edges (cred_hash) WHERE cred_hash <> '';
CREATE UNIQUE INDEX edges_by_key ON edges (pubkey) WHERE pubkey <> '';
