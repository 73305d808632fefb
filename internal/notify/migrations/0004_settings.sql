-- An organisation's settings of its notifications: its locale ("nl-NL",
-- "en-GB"; empty: English) and the language of its messages ("nl",
-- "en"; empty: the locale's).
CREATE TABLE notify_settings (
	org      TEXT NOT NULL PRIMARY KEY,
	locale   TEXT NOT NULL DEFAULT '',
	language TEXT NOT NULL DEFAULT ''
);
