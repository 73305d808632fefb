-- Digital maturity assessments (EU DMA for SMEs) of company
-- organisations: one per stage (T0, T1, T2) and company. answers is the
-- JSON of dma.Answers; scores are computed from it and the questionnaire
-- version, never stored. Times are unix ns.
CREATE TABLE dma_assessments (
	id        TEXT   NOT NULL PRIMARY KEY,
	org       TEXT   NOT NULL,
	stage     TEXT   NOT NULL,
	version   BIGINT NOT NULL,
	answers   TEXT   NOT NULL,
	created   BIGINT NOT NULL,
	actor     TEXT   NOT NULL,
	actor_org TEXT   NOT NULL
);
CREATE UNIQUE INDEX dma_assessments_by_stage ON dma_assessments (org, stage);

-- When a hub's companies are due for T1 and T2; a hub without a row uses
-- the default (dma.DefaultIntervals).
CREATE TABLE dma_intervals (
	hub       TEXT   NOT NULL PRIMARY KEY,
	t1_months BIGINT NOT NULL,
	t2_months BIGINT NOT NULL,
	updated   BIGINT NOT NULL
);
