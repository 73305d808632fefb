-- Remote diagnostics (docs/fleet.md#diagnostics): commands for an edge,
-- taken by the edge's long poll, and their results. state is pending
-- (waiting for the edge), sent (taken), done, failed or expired. output
-- is the result as JSON ('' until there is one); bundle a support
-- bundle, base64 ('' for none). Times are unix ns, 0 for not yet. Rows
-- are bounded per edge and removed a day after they were made.
CREATE TABLE edge_commands (
	id      TEXT   NOT NULL PRIMARY KEY,
	org     TEXT   NOT NULL,
	edge    TEXT   NOT NULL,
	kind    TEXT   NOT NULL,
	args    TEXT   NOT NULL,
	actor   TEXT   NOT NULL,
	state   TEXT   NOT NULL,
	created BIGINT NOT NULL,
	sent    BIGINT NOT NULL,
	done    BIGINT NOT NULL,
	error   TEXT   NOT NULL,
	output  TEXT   NOT NULL,
	bundle  TEXT   NOT NULL
);
CREATE INDEX edge_commands_by_edge ON edge_commands (edge, created);
