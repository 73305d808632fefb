-- Software releases (docs/fleet.md#software-update): one binary of a
-- product ('molen') for one OS and architecture, named by its sha256
-- (hex) and kept content-addressed in the hub's release directory, with
-- the DSSE envelope that signs it (JSON), the signer's key ID and who
-- uploaded it. Times are unix ns.
CREATE TABLE fleet_releases (
	sha256      TEXT   NOT NULL PRIMARY KEY,
	product     TEXT   NOT NULL,
	version     TEXT   NOT NULL,
	os          TEXT   NOT NULL,
	arch        TEXT   NOT NULL,
	size        BIGINT NOT NULL,
	signer      TEXT   NOT NULL,
	envelope    TEXT   NOT NULL,
	uploaded    BIGINT NOT NULL,
	uploaded_by TEXT   NOT NULL
);
CREATE UNIQUE INDEX fleet_releases_by_version ON fleet_releases (product, version, os, arch);
