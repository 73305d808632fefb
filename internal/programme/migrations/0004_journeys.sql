-- Journeys: what a hub's advisor recommended to a customer (kind is
-- service, fieldlab or course; item the listing's, fieldlab's or course's
-- ID; dimension the DMA dimension it works on), and an index for a
-- customer's enrolments, which its timeline reads.
CREATE TABLE prog_recommendations (
	id        TEXT   NOT NULL PRIMARY KEY,
	hub       TEXT   NOT NULL,
	company   TEXT   NOT NULL,
	kind      TEXT   NOT NULL,
	item      TEXT   NOT NULL,
	dimension TEXT   NOT NULL,
	note      TEXT   NOT NULL,
	created   BIGINT NOT NULL,
	actor     TEXT   NOT NULL
);
CREATE INDEX prog_recommendations_by_company ON prog_recommendations (hub, company);
CREATE INDEX acad_enrolments_by_company ON acad_enrolments (hub, company);
