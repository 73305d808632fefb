-- The retention an organisation set, periods in ns (0: forever). An
-- organisation without a row gets the hub's default. Releases before the
-- metadata layer made this table in the time-series store (with the same
-- columns); IF NOT EXISTS adopts it.
CREATE TABLE IF NOT EXISTS retention (
	org    TEXT   NOT NULL PRIMARY KEY,
	raw    BIGINT NOT NULL,
	minute BIGINT NOT NULL,
	hour   BIGINT NOT NULL
);
