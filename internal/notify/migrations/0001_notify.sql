-- Where an organisation's notifications go: kind email (target: the
-- addresses, comma-separated), webhook (target: the URL; format json,
-- teams or slack; secret: the HMAC-SHA256 signing key) or mqtt (target:
-- the broker, tcp://host:port; topic; secret: the password of username).
CREATE TABLE notify_channels (
	org      TEXT   NOT NULL,
	id       TEXT   NOT NULL,
	name     TEXT   NOT NULL,
	kind     TEXT   NOT NULL,
	target   TEXT   NOT NULL,
	format   TEXT   NOT NULL,
	topic    TEXT   NOT NULL,
	username TEXT   NOT NULL,
	secret   TEXT   NOT NULL,
	created  BIGINT NOT NULL,
	PRIMARY KEY (org, id)
);
-- What an organisation is told: trigger alarm (alarms and anomalies
-- raised) or down (a machine down longer than minutes), of assets under
-- prefix, to channel; escalated to escalate_to after escalate_minutes
-- without an acknowledgement; held during the quiet hours (quiet_from to
-- quiet_to, minutes of the day in the zone tz; equal: none).
CREATE TABLE notify_rules (
	org              TEXT    NOT NULL,
	id               TEXT    NOT NULL,
	name             TEXT    NOT NULL,
	trig             TEXT    NOT NULL,
	prefix           TEXT    NOT NULL,
	minutes          BIGINT  NOT NULL,
	channel          TEXT    NOT NULL,
	escalate_to      TEXT    NOT NULL,
	escalate_minutes BIGINT  NOT NULL,
	quiet_from       BIGINT  NOT NULL,
	quiet_to         BIGINT  NOT NULL,
	tz               TEXT    NOT NULL,
	enabled          BIGINT  NOT NULL,
	created          BIGINT  NOT NULL,
	PRIMARY KEY (org, id)
);
-- The durable queue and log of deliveries: one row per message to one
-- channel. dedup makes a second raise of the same alarm for the same rule
-- (and level: 0 first, 1 escalation) no second message. state: pending
-- (due at next_at), sent, failed (gave up after the attempts). ack_hash is
-- unused (links are signed with the key in notify_keys); acked
-- and escalated stop escalation.
CREATE TABLE notify_deliveries (
	id         TEXT   NOT NULL PRIMARY KEY,
	org        TEXT   NOT NULL,
	dedup      TEXT   NOT NULL,
	rule       TEXT   NOT NULL,
	channel    TEXT   NOT NULL,
	level      BIGINT NOT NULL,
	asset      TEXT   NOT NULL,
	kind       TEXT   NOT NULL,
	start_ts   BIGINT NOT NULL,
	message    TEXT   NOT NULL,
	state      TEXT   NOT NULL,
	attempts   BIGINT NOT NULL,
	next_at    BIGINT NOT NULL,
	last_error TEXT   NOT NULL,
	created    BIGINT NOT NULL,
	sent_at    BIGINT NOT NULL,
	ack_hash   TEXT   NOT NULL,
	acked      BIGINT NOT NULL,
	escalated  BIGINT NOT NULL
);
CREATE UNIQUE INDEX notify_deliveries_dedup ON notify_deliveries (org, dedup);
CREATE INDEX notify_deliveries_due ON notify_deliveries (state, next_at);
CREATE INDEX notify_deliveries_log ON notify_deliveries (org, created);
CREATE INDEX notify_deliveries_ack ON notify_deliveries (ack_hash);
-- The key the hub signs acknowledgement links with, made at first start.
CREATE TABLE notify_keys (
	name TEXT NOT NULL PRIMARY KEY,
	key  TEXT NOT NULL
);
