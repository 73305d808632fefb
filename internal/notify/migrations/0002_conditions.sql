-- Conditions of edges (offline, data waiting, an input down) that an edge
-- rule watches, from when the scan first saw each hold for the rule: a
-- message's start is that moment, so one condition is announced once per
-- rule however often it is seen, and a condition that clears and comes
-- back is new. A row is deleted once its condition no longer holds.
CREATE TABLE notify_conditions (
	org     TEXT   NOT NULL,
	rule    TEXT   NOT NULL,
	edge    TEXT   NOT NULL,
	kind    TEXT   NOT NULL,
	subject TEXT   NOT NULL,
	since   BIGINT NOT NULL,
	PRIMARY KEY (org, rule, edge, kind, subject)
);
