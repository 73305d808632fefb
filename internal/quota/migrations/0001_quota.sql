-- The quota a platform admin set for an organisation (0: no limit). An
-- organisation without a row gets the hub's default.
CREATE TABLE quota (
	org            TEXT   NOT NULL PRIMARY KEY,
	series         BIGINT NOT NULL,
	points_per_day BIGINT NOT NULL
);

-- What an organisation stored and what its quota refused, per UTC day
-- (unix seconds / 86400). Rows older than a week are removed.
CREATE TABLE quota_usage (
	org            TEXT   NOT NULL,
	day            BIGINT NOT NULL,
	points         BIGINT NOT NULL,
	refused_series BIGINT NOT NULL,
	refused_points BIGINT NOT NULL,
	PRIMARY KEY (org, day)
);
