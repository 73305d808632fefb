-- Fleet inventory and desired state (docs/fleet.md). Times are unix ns.
-- edge_places: an edge's site (its place in the company) and labels (a
-- JSON object of strings).
CREATE TABLE edge_places (
	edge   TEXT NOT NULL PRIMARY KEY,
	org    TEXT NOT NULL,
	site   TEXT NOT NULL,
	labels TEXT NOT NULL
);
-- edge_reports: the last report of each edge (uplink.Report as JSON).
CREATE TABLE edge_reports (
	edge     TEXT   NOT NULL PRIMARY KEY,
	org      TEXT   NOT NULL,
	reported BIGINT NOT NULL,
	report   TEXT   NOT NULL
);
-- fleet_groups: groups of an organisation's edges by label selector (a
-- JSON object: every label must have the value given).
CREATE TABLE fleet_groups (
	org      TEXT NOT NULL,
	name     TEXT NOT NULL,
	selector TEXT NOT NULL,
	PRIMARY KEY (org, name)
);
-- fleet_layers: desired state per scope (org, site, group, edge) and
-- target (the site's, group's or edge's name; '' for org), a JSON
-- document of inputs, pipelines and settings.
CREATE TABLE fleet_layers (
	org     TEXT   NOT NULL,
	scope   TEXT   NOT NULL,
	target  TEXT   NOT NULL,
	doc     TEXT   NOT NULL,
	updated BIGINT NOT NULL,
	PRIMARY KEY (org, scope, target)
);
-- edge_manifests: the version and digest of each edge's last computed
-- manifest; a manifest with another digest gets the next version.
CREATE TABLE edge_manifests (
	edge    TEXT   NOT NULL PRIMARY KEY,
	org     TEXT   NOT NULL,
	version BIGINT NOT NULL,
	digest  TEXT   NOT NULL
);
