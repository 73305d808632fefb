-- Edges and their enrollment. Releases before the metadata layer made
-- this table in the time-series store (with the same columns); IF NOT
-- EXISTS adopts it, and its indexes. Hashes are hex SHA-256 of secrets
-- ('' when there is none); times are unix ns, 0 for the zero time.
CREATE TABLE IF NOT EXISTS edges (
	id             TEXT    NOT NULL PRIMARY KEY,
	org            TEXT    NOT NULL,
	name           TEXT    NOT NULL,
	enroll_hash    TEXT    NOT NULL,
	enroll_expires BIGINT  NOT NULL,
	cred_hash      TEXT    NOT NULL,
	revoked        BOOLEAN NOT NULL,
	created        BIGINT  NOT NULL,
	enrolled       BIGINT  NOT NULL
);
CREATE INDEX IF NOT EXISTS edges_by_org ON edges (org, id);
CREATE UNIQUE INDEX IF NOT EXISTS edges_by_enroll ON edges (enroll_hash) WHERE enroll_hash <> '';
CREATE UNIQUE INDEX IF NOT EXISTS edges_by_cred ON edges (cred_hash) WHERE cred_hash <> '';
