// Package programme is the hub's domain of the Smart Industry programme:
// the digital maturity assessments (the EU DMA for SMEs, package dma) of
// company organisations at T0, T1 and T2, made by the company's members
// or by a hub advisor it gave its consent, and the intervals at which a
// hub's companies are due; the network — hubs' regions, their fieldlabs
// and the public catalogue of them, hubs' customers with their service
// records, collaborations between hubs — and the KPIs the hubs report,
// live and as frozen monthly snapshots. It owns the dma_* and prog_*
// tables and the /api/v1/dma, /api/v1/assessments, /api/v1/catalogue and
// /api/v1/programme routes. See docs/programme.md.
package programme
