-- The downtime reasons an organisation set, in their order; labels is a
-- JSON object of language to label. An organisation with no row in
-- factory_reason_lists has the default reasons.
CREATE TABLE factory_reasons (
	org     TEXT   NOT NULL,
	pos     BIGINT NOT NULL,
	code    TEXT   NOT NULL,
	labels  TEXT   NOT NULL,
	planned BIGINT NOT NULL,
	PRIMARY KEY (org, code)
);
CREATE TABLE factory_reason_lists (
	org     TEXT   NOT NULL PRIMARY KEY,
	updated BIGINT NOT NULL
);
-- Acknowledgements (ack = 1) and comments of alarms and anomalies, by the
-- event's identity; at in unix ns, actor a user or token ID.
CREATE TABLE factory_alarm_notes (
	org      TEXT   NOT NULL,
	asset    TEXT   NOT NULL,
	kind     TEXT   NOT NULL,
	start_ts BIGINT NOT NULL,
	at       BIGINT NOT NULL,
	actor    TEXT   NOT NULL,
	ack      BIGINT NOT NULL,
	body     TEXT   NOT NULL
);
CREATE INDEX factory_alarm_notes_by_event ON factory_alarm_notes (org, start_ts, asset, kind);
