package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/molen-io/molen/internal/backoff"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uplink"
)

// StreamName is the JetStream stream of accepted uplink batches in a hub
// cluster (docs/cluster.md).
const StreamName = "MOLEN_UPLINK"

// subjectPrefix starts the subject of every batch:
// molen.uplink.<partition>.<key of (edge, stream)>.
const subjectPrefix = "molen.uplink."

// Defaults of ClusterConfig.
const (
	DefaultReplicas   = 3
	DefaultPartitions = 16
	DefaultAckWait    = 10 * time.Second
	DefaultMaxBytes   = 4 << 30
)

// Headers of a batch's message.
const (
	hdrOrg      = "Molen-Org"
	hdrEdge     = "Molen-Edge"
	hdrStream   = "Molen-Stream"
	hdrLast     = "Molen-Last" // the batch's last sequence
	hdrEncoding = "Molen-Encoding"
)

// ClusterConfig configures the uplink of a hub replica in a cluster: the
// batches go to a replicated JetStream stream before the edge gets its
// answer, and the replicas' consumers store them.
type ClusterConfig struct {
	JS jetstream.JetStream
	// Replicas of the stream (default DefaultReplicas): an accepted batch
	// is on a majority of them.
	Replicas int
	// Partitions of the stream (default DefaultPartitions): each (edge,
	// stream) belongs to one, and each partition is stored in order, one
	// batch at a time, by whichever replica fetches it. The same for
	// every replica and every start of the cluster.
	Partitions int
	// AckWait is how long a replica may take to store a batch before
	// another gets it (default DefaultAckWait): the failover time of a
	// replica that dies while it stores one.
	AckWait time.Duration
	// MaxBytes bounds the stream (default DefaultMaxBytes); a full stream
	// refuses new batches (the edge gets uplink.ErrBusy and keeps them).
	MaxBytes int64
}

func (c ClusterConfig) withDefaults() ClusterConfig {
	if c.Replicas <= 0 {
		c.Replicas = DefaultReplicas
	}
	if c.Partitions <= 0 {
		c.Partitions = DefaultPartitions
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	return c
}

// clustered is the JetStream side of a Service in a cluster.
type clustered struct {
	cfg      ClusterConfig
	stream   jetstream.Stream
	consumed *prometheus.CounterVec
}

// UseCluster has the Service accept batches into the cluster's JetStream
// stream instead of storing them itself, creating (or updating) the
// stream and its consumers; Consume stores them. Call it before serving.
func (s *Service) UseCluster(ctx context.Context, cfg ClusterConfig, reg prometheus.Registerer) error {
	cfg = cfg.withDefaults()
	var st jetstream.Stream
	err := settle(ctx, s.log, "create stream "+StreamName, func(ctx context.Context) (err error) {
		st, err = cfg.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        StreamName,
			Description: "uplink batches accepted by molen hub replicas, not yet stored",
			Subjects:    []string{subjectPrefix + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			MaxBytes:    cfg.MaxBytes,
			Discard:     jetstream.DiscardNew,
			Duplicates:  2 * time.Minute,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("uplink stream %s: %w", StreamName, err)
	}
	for p := range cfg.Partitions {
		if err := settle(ctx, s.log, "create consumer "+consumerName(p), func(ctx context.Context) error {
			_, err := cfg.JS.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
				Durable:       consumerName(p),
				Description:   "stores one partition of the uplink in order",
				FilterSubject: fmt.Sprintf("%s%d.*", subjectPrefix, p),
				AckPolicy:     jetstream.AckExplicitPolicy,
				// One batch at a time: the next is delivered only after this
				// one is stored, whichever replica stores it, so the batches
				// of an (edge, stream) reach the store in the order the edge
				// sent them.
				MaxAckPending: 1,
				AckWait:       cfg.AckWait,
				MaxDeliver:    -1,
			})
			return err
		}); err != nil {
			return fmt.Errorf("uplink consumer %s: %w", consumerName(p), err)
		}
	}
	c := &clustered{cfg: cfg, stream: st,
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molen_hub_uplink_consumed_total",
			Help: "Batches this replica took from the cluster's uplink stream, by result (stored, retry, dead)."}, []string{"result"})}
	for _, r := range []string{"stored", "retry", "dead"} {
		c.consumed.WithLabelValues(r)
	}
	reg.MustRegister(c.consumed)
	s.cluster = c
	return nil
}

// deadSubject is where a batch that cannot be stored goes:
// molen.uplink.dead.<key>, which no consumer takes.
func deadSubject(subject string) string {
	return subjectPrefix + "dead." + subject[strings.LastIndexByte(subject, '.')+1:]
}

// settle runs a JetStream API call until it succeeds, for up to two
// minutes: replicas starting at once create the same stream and consumers
// while the cluster elects their leaders, and such calls time out
// meanwhile.
func settle(ctx context.Context, log *slog.Logger, what string, call func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	retry := backoff.New(250*time.Millisecond, 5*time.Second)
	for {
		// Each call bounded: an API request can go unanswered while the
		// cluster changes leaders.
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		err := call(cctx)
		ccancel()
		if err == nil {
			return nil
		}
		wait := retry.Next()
		log.Info("JetStream not ready; retrying", "what", what, "err", err, "retry_in", wait)
		if !backoff.Sleep(ctx, wait) {
			return err
		}
	}
}

func consumerName(p int) string { return "ingest-" + strconv.Itoa(p) }

// subject is where the batches of (edge, stream) go: their partition,
// and a key of the pair (names may hold characters subjects may not).
func (c *clustered) subject(edge, stream string) string {
	h := fnv.New32a()
	h.Write([]byte(edge))
	h.Write([]byte{0})
	h.Write([]byte(stream))
	key := sha256.Sum256([]byte(edge + "\x00" + stream))
	return fmt.Sprintf("%s%d.%s", subjectPrefix, h.Sum32()%uint32(c.cfg.Partitions), hex.EncodeToString(key[:12]))
}

// accept checks a batch as storing it would, puts it on the stream and
// answers once JetStream has it on a majority of the stream's replicas.
func (s *Service) accept(ctx context.Context, org, edge, encoding string, raw []byte) (Received, error) {
	d, err := s.receiver.decode(encoding, raw)
	if err != nil {
		return Received{}, err
	}
	src := store.Source{Edge: edge, Stream: d.stream}
	if err := store.ValidateIngest(org, src, d.recs); err != nil {
		return Received{}, fmt.Errorf("%w: batch of %s/%s: %w", uplink.ErrInvalidRecord, edge, d.stream, err)
	}
	res := Received{Records: len(d.recs), Points: d.points, Events: d.events}
	subject := s.cluster.subject(edge, d.stream)
	// What the hub has of the stream: the last batch still on the stream
	// (read first: it leaves only once stored), else the store's
	// watermark.
	if m, err := s.cluster.stream.GetLastMsgForSubject(ctx, subject); err == nil {
		res.Previous, _ = strconv.ParseUint(m.Header.Get(hdrLast), 10, 64)
	} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return Received{}, fmt.Errorf("%w: uplink stream: %v", uplink.ErrBusy, err)
	}
	wm, err := s.receiver.store.Watermark(ctx, src)
	if err != nil {
		return Received{}, fmt.Errorf("watermark of %s/%s: %w", edge, d.stream, err)
	}
	res.Previous = max(res.Previous, wm)
	res.Watermark = res.Previous
	if len(d.recs) == 0 {
		return res, nil
	}
	first, last := d.recs[0].Seq, d.recs[len(d.recs)-1].Seq
	for _, r := range d.recs {
		if r.Seq > res.Previous {
			res.Stored++
			res.StoredPoints += len(r.Points)
			res.StoredEvents += len(r.Events)
		}
	}
	res.Watermark = max(res.Previous, last)
	if res.Stored == 0 {
		return res, nil // a resend of what the hub has
	}
	msg := &nats.Msg{Subject: subject, Data: raw, Header: nats.Header{}}
	msg.Header.Set(hdrOrg, org)
	msg.Header.Set(hdrEdge, edge)
	msg.Header.Set(hdrStream, d.stream)
	msg.Header.Set(hdrLast, strconv.FormatUint(last, 10))
	msg.Header.Set(hdrEncoding, encoding)
	if _, err := s.cluster.cfg.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(fmt.Sprintf("%s/%s/%d-%d", edge, d.stream, first, last))); err != nil {
		// Not accepted: the edge keeps the batch and sends it again.
		return Received{}, fmt.Errorf("%w: uplink stream: %v", uplink.ErrBusy, err)
	}
	return res, nil
}

// Consume stores the batches of the cluster's uplink stream until ctx
// ends: one worker per partition, each fetching that partition's next
// batch (which this replica or another stores: JetStream hands each to
// one). It returns once its workers have finished the batch in hand.
func (s *Service) Consume(ctx context.Context) error {
	if s.cluster == nil {
		return errors.New("ingest: Consume without UseCluster")
	}
	var wg sync.WaitGroup
	for p := range s.cluster.cfg.Partitions {
		wg.Go(func() { s.consumePartition(ctx, p) })
	}
	wg.Wait()
	return nil
}

func (s *Service) consumePartition(ctx context.Context, p int) {
	retry := backoff.New(250*time.Millisecond, 5*time.Second)
	var cons jetstream.Consumer
	for ctx.Err() == nil {
		var err error
		if cons == nil {
			cons, err = s.cluster.cfg.JS.Consumer(ctx, StreamName, consumerName(p))
		}
		if err == nil {
			err = s.fetchOne(ctx, cons)
		}
		if err == nil || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			retry.Reset()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		wait := retry.Next()
		s.log.Warn("fetch from the uplink stream failed; retrying", "partition", p, "err", err, "retry_in", wait)
		if !backoff.Sleep(ctx, wait) {
			return
		}
	}
}

// fetchOne waits up to 5 s (less when ctx ends) for the partition's next
// batch and stores it.
func (s *Service) fetchOne(ctx context.Context, cons jetstream.Consumer) error {
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
	if err != nil {
		return err
	}
	for msg := range batch.Messages() {
		s.consumeOne(ctx, msg)
	}
	return batch.Error()
}

// consumeOne stores one batch of the stream and acknowledges it to
// JetStream only after the commit. The store's watermark makes a batch
// delivered again (after a replica died before its acknowledgement, or
// JetStream lost it) store nothing twice.
func (s *Service) consumeOne(ctx context.Context, msg jetstream.Msg) {
	h := msg.Headers()
	org, edge := h.Get(hdrOrg), h.Get(hdrEdge)
	// A batch begun is finished even when the replica stops.
	res, err := s.receiver.Receive(context.WithoutCancel(ctx), org, edge, h.Get(hdrEncoding), bytes.NewReader(msg.Data()))
	switch {
	case errors.Is(err, uplink.ErrMalformed) || errors.Is(err, uplink.ErrTooLarge) || errors.Is(err, uplink.ErrInvalidRecord):
		// accept checked it as storing does: a replica of another version
		// may have accepted what this one refuses. It goes to the dead
		// letters, which stay on the stream (no consumer takes them) for
		// an operator, and the partition goes on.
		dead := &nats.Msg{Subject: deadSubject(msg.Subject()), Data: msg.Data(), Header: nats.Header{}}
		for k, v := range h {
			dead.Header[k] = v
		}
		dead.Header.Set("Molen-Error", err.Error())
		if _, perr := s.cluster.cfg.JS.PublishMsg(ctx, dead); perr != nil {
			s.log.Warn("moving an uplink batch to the dead letters failed; it comes again", "edge", edge, "err", perr)
			_ = msg.NakWithDelay(time.Second)
			return
		}
		s.cluster.consumed.WithLabelValues("dead").Inc()
		s.log.Error("uplink batch on the stream cannot be stored; moved to the dead letters", "edge", edge, "stream", h.Get(hdrStream), "subject", dead.Subject, "err", err)
		_ = msg.Ack()
		return
	case err != nil:
		s.cluster.consumed.WithLabelValues("retry").Inc()
		s.log.Warn("storing an uplink batch from the stream failed; it comes again", "edge", edge, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if s.stored != nil && len(res.New) > 0 {
		s.stored(org, res.New)
	}
	s.cluster.consumed.WithLabelValues("stored").Inc()
	s.records.WithLabelValues("stored").Add(float64(res.Stored))
	s.records.WithLabelValues("duplicate").Add(float64(res.Records - res.Stored))
	s.points.Add(float64(res.StoredPoints))
	if err := msg.Ack(); err != nil {
		s.log.Warn("acknowledging a stored uplink batch failed; it comes again and stores nothing", "edge", edge, "err", err)
	}
}
