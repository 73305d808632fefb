-- The academy: a hub's courses (titles and descriptions in English and
-- Dutch; dimensions and modules JSON arrays), its learning routes
-- (courses: a JSON array of course IDs, in order), its learners, and their
-- enrolments and completions. A learner is a pseudonym (lrn_…, a keyed
-- hash of the normalised e-mail address under the instance's learner key): the
-- same person enrolled through two hubs has the same learner ID, so the
-- KPIs count them once; the name and e-mail address stay with the hub
-- that enrolled them (acad_learners) and never reach a KPI.
CREATE TABLE acad_courses (
	id             TEXT   NOT NULL PRIMARY KEY,
	hub            TEXT   NOT NULL,
	title_en       TEXT   NOT NULL,
	title_nl       TEXT   NOT NULL,
	description_en TEXT   NOT NULL,
	description_nl TEXT   NOT NULL,
	technology     TEXT   NOT NULL,
	dimensions     TEXT   NOT NULL,
	hours          BIGINT NOT NULL,
	provider       TEXT   NOT NULL,
	modules        TEXT   NOT NULL,
	public         BIGINT NOT NULL,
	updated        BIGINT NOT NULL
);
CREATE INDEX acad_courses_by_hub ON acad_courses (hub);

CREATE TABLE acad_routes (
	id       TEXT   NOT NULL PRIMARY KEY,
	hub      TEXT   NOT NULL,
	title_en TEXT   NOT NULL,
	title_nl TEXT   NOT NULL,
	courses  TEXT   NOT NULL,
	updated  BIGINT NOT NULL
);
CREATE INDEX acad_routes_by_hub ON acad_routes (hub);

CREATE TABLE acad_learners (
	hub     TEXT   NOT NULL,
	learner TEXT   NOT NULL,
	name    TEXT   NOT NULL,
	email   TEXT   NOT NULL,
	created BIGINT NOT NULL,
	PRIMARY KEY (hub, learner)
);

-- One enrolment per hub, learner and course; completed is 0 until the
-- learner completed it; credential is the signed credential (vc+jwt),
-- issued when first asked for.
CREATE TABLE acad_enrolments (
	id         TEXT   NOT NULL PRIMARY KEY,
	hub        TEXT   NOT NULL,
	learner    TEXT   NOT NULL,
	course     TEXT   NOT NULL,
	company    TEXT   NOT NULL,
	enrolled   BIGINT NOT NULL,
	completed  BIGINT NOT NULL,
	credential TEXT   NOT NULL,
	actor      TEXT   NOT NULL
);
CREATE UNIQUE INDEX acad_enrolments_once ON acad_enrolments (hub, learner, course);
CREATE INDEX acad_enrolments_by_learner ON acad_enrolments (learner);
-- The completions only (a fifth of the enrolments, say): the KPIs count
-- distinct learners with a completion, nationally and per hub, from these
-- alone.
CREATE INDEX acad_completions_by_learner ON acad_enrolments (learner, hub, completed) WHERE completed <> 0;
CREATE INDEX acad_completions_by_hub ON acad_enrolments (hub, learner, completed) WHERE completed <> 0;

-- The hubs' signing keys (Ed25519; private is the 32-byte seed, base64)
-- and, in the row with hub '', the instance's learner key (private, with
-- kid and public empty). kid is the RFC 7638 thumbprint of the public key.
CREATE TABLE acad_keys (
	hub     TEXT   NOT NULL PRIMARY KEY,
	kid     TEXT   NOT NULL,
	private TEXT   NOT NULL,
	public  TEXT   NOT NULL,
	created BIGINT NOT NULL
);
