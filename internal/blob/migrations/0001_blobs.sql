-- Content-addressed files (service packages, release binaries) that every
-- hub replica serves: the row is the copy replicas share, the file under
-- the hub's data directory a cache. PostgreSQL only.
CREATE TABLE blobs (
	sha256  TEXT PRIMARY KEY,
	bytes   BYTEA NOT NULL,
	size    BIGINT NOT NULL,
	created BIGINT NOT NULL
);
