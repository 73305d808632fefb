// Package programme is the hub's domain of the Smart Industry programme:
// for now the digital maturity assessments (the EU DMA for SMEs, package
// dma) of company organisations at T0, T1 and T2, made by the company's
// members or by a hub advisor it gave its consent, and the intervals at
// which a hub's companies are due. It owns the dma_assessments and
// dma_intervals tables and the /api/v1/dma and /api/v1/assessments
// routes. See docs/programme.md.
package programme
