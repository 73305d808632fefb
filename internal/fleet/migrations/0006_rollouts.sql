-- Rollouts of a layer change to a fleet's edges, step by step
-- (docs/fleet.md#rollouts, ADR 0019). Times are unix ns.
-- fleet_rollouts: one rollout; spec is its JSON (the new layer content,
-- the selector and the plan); state is running, paused, completed or
-- aborted; step the step being admitted or judged (from 0, the canary);
-- step_started when the step's last edge was admitted (0 while it is
-- still admitting), from which its timeout runs.
CREATE TABLE fleet_rollouts (
	id           TEXT    NOT NULL PRIMARY KEY,
	org          TEXT    NOT NULL,
	scope        TEXT    NOT NULL,
	target       TEXT    NOT NULL,
	spec         TEXT    NOT NULL,
	previous     TEXT    NOT NULL,
	state        TEXT    NOT NULL,
	reason       TEXT    NOT NULL,
	step         INTEGER NOT NULL,
	step_started BIGINT  NOT NULL,
	created      BIGINT  NOT NULL,
	updated      BIGINT  NOT NULL,
	created_by   TEXT    NOT NULL
);
CREATE INDEX fleet_rollouts_state ON fleet_rollouts (state, org);
-- fleet_rollout_edges: the edges a rollout targets, chosen at its start,
-- in admission order (ord). step is -1 until the edge is admitted; state
-- is waiting, installing, installed, failed or skipped; version the
-- manifest version the edge must report running; active is 1 while the
-- rollout is running or paused (an edge is in at most one such rollout).
CREATE TABLE fleet_rollout_edges (
	rollout  TEXT    NOT NULL,
	edge     TEXT    NOT NULL,
	org      TEXT    NOT NULL,
	ord      INTEGER NOT NULL,
	step     INTEGER NOT NULL,
	state    TEXT    NOT NULL,
	version  BIGINT  NOT NULL,
	admitted BIGINT  NOT NULL,
	detail   TEXT    NOT NULL,
	active   INTEGER NOT NULL,
	PRIMARY KEY (rollout, edge)
);
CREATE UNIQUE INDEX fleet_rollout_edges_one_active ON fleet_rollout_edges (edge) WHERE active = 1;
-- One running or paused rollout per layer (and per edge, above): the
-- second is refused even when two hubs start them at once.
CREATE UNIQUE INDEX fleet_rollouts_one_per_layer ON fleet_rollouts (org, scope, target) WHERE state IN ('running', 'paused');
