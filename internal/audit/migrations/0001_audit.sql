-- The audit log: one hash chain per organisation. seq counts from 1
-- without gaps; hash is the hex SHA-256 of the previous entry's hash and
-- this entry's canonical encoding (see Entry.Sum). audit_heads holds each
-- chain's last seq and hash: appends serialise on its row, and a removed
-- last entry shows as a head beyond the entries. Times are unix ns.
CREATE TABLE IF NOT EXISTS audit (
	org       TEXT   NOT NULL,
	seq       BIGINT NOT NULL,
	at        BIGINT NOT NULL,
	actor     TEXT   NOT NULL,
	actor_org TEXT   NOT NULL,
	action    TEXT   NOT NULL,
	target    TEXT   NOT NULL,
	detail    TEXT   NOT NULL,
	addr      TEXT   NOT NULL,
	hash      TEXT   NOT NULL,
	PRIMARY KEY (org, seq)
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (org, at);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit (actor, at);

CREATE TABLE IF NOT EXISTS audit_heads (
	org  TEXT   NOT NULL PRIMARY KEY,
	seq  BIGINT NOT NULL,
	hash TEXT   NOT NULL
);
