-- The knowledge library: fieldlabs' use cases and lessons learned,
-- written by a hub's or fieldlab's staff and read by every hub's
-- (public ones also in the public catalogue). hub is the hub the author
-- belongs to, author the organisation that wrote it (the hub or one of
-- its fieldlabs); technologies and sectors (NACE sections or divisions)
-- are JSON arrays of strings.
CREATE TABLE prog_library (
	id           TEXT   NOT NULL PRIMARY KEY,
	hub          TEXT   NOT NULL,
	author       TEXT   NOT NULL,
	kind         TEXT   NOT NULL,
	title_en     TEXT   NOT NULL,
	title_nl     TEXT   NOT NULL,
	body_en      TEXT   NOT NULL,
	body_nl      TEXT   NOT NULL,
	technologies TEXT   NOT NULL,
	sectors      TEXT   NOT NULL,
	public       BIGINT NOT NULL,
	updated      BIGINT NOT NULL,
	actor        TEXT   NOT NULL
);
