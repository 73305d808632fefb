-- A lease gives one holder (a hub) a named job until expires (unix ns);
-- see Leases.
CREATE TABLE leases (
	name    TEXT   NOT NULL PRIMARY KEY,
	holder  TEXT   NOT NULL,
	expires BIGINT NOT NULL
);
