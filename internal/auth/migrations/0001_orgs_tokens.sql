-- Organisations and API tokens. Releases before the metadata layer made
-- these tables in the time-series store (with the same columns); IF NOT
-- EXISTS adopts them. Times are unix ns, 0 for the zero time.
CREATE TABLE IF NOT EXISTS orgs (
	id      TEXT   NOT NULL PRIMARY KEY,
	name    TEXT   NOT NULL,
	kind    TEXT   NOT NULL,
	created BIGINT NOT NULL
);

-- hash is the hex SHA-256 of the token's secret.
CREATE TABLE IF NOT EXISTS tokens (
	hash    TEXT   NOT NULL PRIMARY KEY,
	org     TEXT   NOT NULL,
	role    TEXT   NOT NULL,
	name    TEXT   NOT NULL,
	created BIGINT NOT NULL
);
