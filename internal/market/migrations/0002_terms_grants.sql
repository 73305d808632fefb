-- Data-sharing grants: a company's acceptance of a service's terms at an
-- install, for as long as the install runs that version. egress is the
-- data that leaves the edge as the version declares it (JSON: [{to, data,
-- purpose}]); terms_sha256 the terms accepted. ended is 0 while in force;
-- end_reason says why it ended: uninstalled, changed (another version) or
-- revoked (the version was revoked).
CREATE TABLE market_grants (
	id           TEXT   NOT NULL PRIMARY KEY,
	org          TEXT   NOT NULL,
	install      TEXT   NOT NULL,
	listing      TEXT   NOT NULL,
	version      TEXT   NOT NULL,
	provider     TEXT   NOT NULL,
	egress       TEXT   NOT NULL,
	terms_sha256 TEXT   NOT NULL,
	accepted_by  TEXT   NOT NULL,
	accepted     BIGINT NOT NULL,
	ended        BIGINT NOT NULL DEFAULT 0,
	ended_by     TEXT   NOT NULL DEFAULT '',
	end_reason   TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX market_grants_by_org ON market_grants (org);
CREATE INDEX market_grants_by_version ON market_grants (listing, version);
