-- The programme's registry: a hub's regions (NUTS 2021 codes, comma
-- separated) and public description; its fieldlabs with what they offer.
-- Lists (technologies, facilities, partners, use cases, service types)
-- are JSON arrays of strings. notes is for the hub's staff and never
-- public; a fieldlab is in the public catalogue only when public = 1.
CREATE TABLE prog_hubs (
	hub            TEXT   NOT NULL PRIMARY KEY,
	name           TEXT   NOT NULL,
	regions        TEXT   NOT NULL,
	description_en TEXT   NOT NULL,
	description_nl TEXT   NOT NULL,
	website        TEXT   NOT NULL,
	updated        BIGINT NOT NULL
);

CREATE TABLE prog_fieldlabs (
	fieldlab       TEXT   NOT NULL PRIMARY KEY,
	hub            TEXT   NOT NULL,
	name           TEXT   NOT NULL,
	region         TEXT   NOT NULL,
	technologies   TEXT   NOT NULL,
	facilities     TEXT   NOT NULL,
	partners       TEXT   NOT NULL,
	use_cases      TEXT   NOT NULL,
	services       TEXT   NOT NULL,
	description_en TEXT   NOT NULL,
	description_nl TEXT   NOT NULL,
	website        TEXT   NOT NULL,
	notes          TEXT   NOT NULL,
	public         BIGINT NOT NULL,
	updated        BIGINT NOT NULL
);
CREATE INDEX prog_fieldlabs_by_hub ON prog_fieldlabs (hub);

-- A hub's customers: the company organisation's profile. kvk is the
-- chamber of commerce number, unique across the programme. size is
-- 0-49, 50-249 or 250+; nace a NACE section letter and division
-- ("C25"); nuts a NUTS 2021 level-2 code. reached is when the hub first
-- met the company, registered when it became a customer (0: reached
-- only).
CREATE TABLE prog_companies (
	org           TEXT   NOT NULL PRIMARY KEY,
	hub           TEXT   NOT NULL,
	name          TEXT   NOT NULL,
	kvk           TEXT   NOT NULL,
	vat           TEXT   NOT NULL,
	size          TEXT   NOT NULL,
	nace          TEXT   NOT NULL,
	nuts          TEXT   NOT NULL,
	contact_name  TEXT   NOT NULL,
	contact_email TEXT   NOT NULL,
	consent       BIGINT NOT NULL,
	reached       BIGINT NOT NULL,
	registered    BIGINT NOT NULL
);
CREATE UNIQUE INDEX prog_companies_by_kvk ON prog_companies (kvk);
CREATE INDEX prog_companies_by_hub ON prog_companies (hub);

-- Services a hub delivered to a customer. Money in euro cents. provider
-- is the delivering fieldlab's organisation ID or a partner's name;
-- people the number of the company's people it reached (trained, for
-- skills).
CREATE TABLE prog_services (
	id           TEXT   NOT NULL PRIMARY KEY,
	hub          TEXT   NOT NULL,
	company      TEXT   NOT NULL,
	type         TEXT   NOT NULL,
	day          TEXT   NOT NULL,
	provider     TEXT   NOT NULL,
	price        BIGINT NOT NULL,
	market_price BIGINT NOT NULL,
	subsidy      BIGINT NOT NULL,
	investment   BIGINT NOT NULL,
	people       BIGINT NOT NULL,
	description  TEXT   NOT NULL,
	created      BIGINT NOT NULL,
	actor        TEXT   NOT NULL
);
CREATE INDEX prog_services_by_hub ON prog_services (hub, company);

-- Collaborations of a hub with another hub (for a customer or not).
CREATE TABLE prog_collaborations (
	id       TEXT   NOT NULL PRIMARY KEY,
	hub      TEXT   NOT NULL,
	partner  TEXT   NOT NULL,
	company  TEXT   NOT NULL,
	topic    TEXT   NOT NULL,
	day      TEXT   NOT NULL,
	created  BIGINT NOT NULL
);
CREATE INDEX prog_collaborations_by_hub ON prog_collaborations (hub);

-- Monthly KPI snapshots, frozen for reviews: scope is a hub's ID or
-- "national"; body the JSON of the KPIs as they were.
CREATE TABLE prog_snapshots (
	scope   TEXT   NOT NULL,
	month   TEXT   NOT NULL,
	body    TEXT   NOT NULL,
	created BIGINT NOT NULL,
	actor   TEXT   NOT NULL,
	PRIMARY KEY (scope, month)
);
