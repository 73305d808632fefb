// Package ingest is the hub's side of the uplink (internal/uplink): the
// POST /api/v1/uplink route, open to enrolled edges only, which decodes a
// batch and stores the records above the stream's watermark in one
// transaction with the new watermark, answering 200 only after the commit.
// It bounds the batches stored at once (more get uplink.ErrBusy) and
// counts batches, records and points.
package ingest
