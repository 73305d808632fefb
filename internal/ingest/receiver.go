package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/klauspost/compress/zstd"

	"github.com/molen-io/molen/internal/quota"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Ingester is the storage a Receiver writes to.
type Ingester interface {
	Ingest(ctx context.Context, org string, src store.Source, recs []store.Record) (int, error)
	Watermark(ctx context.Context, src store.Source) (uint64, error)
}

// Receiver decodes batches and stores them exactly once.
type Receiver struct {
	store Ingester
	dec   *zstd.Decoder
	quota *quota.Service // nil: no quotas
	log   *slog.Logger
}

// NewReceiver returns a Receiver storing into s.
func NewReceiver(s Ingester) (*Receiver, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(uplink.MaxBatchBytes))
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	return &Receiver{store: s, dec: dec, log: slog.New(slog.DiscardHandler)}, nil
}

// Close releases the decoder.
func (r *Receiver) Close() { r.dec.Close() }

// Received describes one accepted batch, for the caller's metrics.
type Received struct {
	uplink.Ack
	Records, Points, Events    int // in the batch, including duplicates
	StoredPoints, StoredEvents int
	// New are the records stored by this batch (not the duplicates).
	New []store.Record
	// Refused counts the points the organisation's quota refused, by
	// reason (quota.ReasonSeries, quota.ReasonPoints).
	Refused map[string]int
}

// Receive reads one batch body (encoding "" or "zstd") sent by the edge
// edgeID of org and stores its new records. It returns only once they are
// stored; errors wrapping uplink.ErrMalformed, ErrTooLarge or
// ErrInvalidRecord are the sender's fault.
func (r *Receiver) Receive(ctx context.Context, org, edgeID, encoding string, body io.Reader) (Received, error) {
	raw, err := readBody(body)
	if err != nil {
		return Received{}, err
	}
	d, err := r.decode(encoding, raw)
	if err != nil {
		return Received{}, err
	}
	return r.storeBatch(ctx, org, edgeID, d)
}

// decoded is a batch read and decoded, not yet stored.
type decoded struct {
	stream         string
	recs           []store.Record
	points, events int
}

// readBody reads a batch body of at most uplink.MaxBatchBytes.
func readBody(body io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(body, uplink.MaxBatchBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read batch: %w", err)
	}
	if len(raw) > uplink.MaxBatchBytes {
		return nil, fmt.Errorf("%w: body over %d bytes", uplink.ErrTooLarge, uplink.MaxBatchBytes)
	}
	return raw, nil
}

// decode decodes a batch body; its errors are the sender's fault.
func (r *Receiver) decode(encoding string, raw []byte) (decoded, error) {
	var err error
	switch encoding {
	case "":
	case "zstd":
		if raw, err = r.dec.DecodeAll(raw, nil); err != nil {
			return decoded{}, fmt.Errorf("%w: zstd: %v", uplink.ErrMalformed, err)
		}
	default:
		return decoded{}, fmt.Errorf("%w: content encoding %q, want zstd or none", uplink.ErrMalformed, encoding)
	}
	b, err := uplink.DecodeBatch(raw)
	if err != nil {
		return decoded{}, err
	}
	recs := make([]store.Record, len(b.Records))
	var pts []uns.Point
	var evs []uns.Event
	for i, rr := range b.Records {
		n0, e0 := len(pts), len(evs)
		if pts, evs, err = uplink.DecodeRecord(pts, evs, rr.Data); err != nil {
			return decoded{}, fmt.Errorf("%w: record %d: %w", uplink.ErrInvalidRecord, rr.Seq, err)
		}
		if len(pts)+len(evs) > uplink.MaxBatchPoints {
			return decoded{}, fmt.Errorf("%w: more than %d points and events", uplink.ErrTooLarge, uplink.MaxBatchPoints)
		}
		recs[i] = store.Record{Seq: rr.Seq, Points: pts[n0:len(pts):len(pts)], Events: evs[e0:len(evs):len(evs)]}
	}
	return decoded{stream: b.Stream, recs: recs, points: len(pts), events: len(evs)}, nil
}

// storeBatch stores the new records of d, sent by the edge edgeID of org.
func (r *Receiver) storeBatch(ctx context.Context, org, edgeID string, d decoded) (Received, error) {
	src := store.Source{Edge: edgeID, Stream: d.stream}
	recs := d.recs
	res := Received{Records: len(recs), Points: d.points, Events: d.events}
	var err error
	// Read before storing: batches of one stream come one at a time from
	// its edge (a resend overlapping its own first attempt could see an
	// older value, which only makes the edge count a drop too many).
	if res.Previous, err = r.store.Watermark(ctx, src); err != nil {
		return Received{}, fmt.Errorf("watermark of %s/%s: %w", edgeID, d.stream, err)
	}
	var adm *quota.Admission
	if r.quota != nil {
		fresh := recs
		for len(fresh) > 0 && fresh[0].Seq <= res.Previous {
			fresh = fresh[1:]
		}
		if adm, err = r.quota.Admit(ctx, org, fresh); err != nil {
			return Received{}, fmt.Errorf("quota of batch of %s/%s: %w", edgeID, d.stream, err)
		}
		defer adm.Release()
	}
	sctx, span := uplink.Tracer().Start(ctx, "store.ingest", trace.WithAttributes(attribute.Int("molen.points", res.Points), attribute.Int("molen.events", res.Events)))
	stored, err := r.store.Ingest(sctx, org, src, recs)
	span.End()
	if errors.Is(err, store.ErrInvalid) {
		return Received{}, fmt.Errorf("%w: store batch of %s/%s: %w", uplink.ErrInvalidRecord, edgeID, d.stream, err)
	}
	if err != nil {
		return Received{}, fmt.Errorf("store batch of %s/%s: %w", edgeID, d.stream, err)
	}
	res.Stored = stored
	if adm != nil {
		if err := adm.Commit(ctx); err != nil {
			// The batch is stored: the edge must not send it again.
			// Only the day's count misses it.
			r.log.Error("quota usage of a stored batch not recorded", "org", org, "err", err)
		}
		res.Refused = adm.Refused
		res.RefusedSeries, res.RefusedPoints = adm.Refused[quota.ReasonSeries], adm.Refused[quota.ReasonPoints]
	}
	res.New = recs[len(recs)-stored:]
	for _, rec := range res.New {
		res.StoredPoints += len(rec.Points)
		res.StoredEvents += len(rec.Events)
	}
	res.Watermark = res.Previous
	if len(recs) > 0 {
		res.Watermark = max(res.Previous, recs[len(recs)-1].Seq)
	}
	return res, nil
}
