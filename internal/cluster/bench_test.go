package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/molen-io/molen/internal/cluster"
	"github.com/molen-io/molen/internal/cluster/clustertest"
)

// BenchmarkPublish measures JetStream publishes acknowledged by a file
// stream of 1 or 3 replicas on in-process nodes, with every write fsynced
// (sync) or fsynced every 2 minutes (async), by 1 or 8 publishers each
// waiting for its acknowledgement (as uplink handlers do), for messages
// of 100 B and of 32 KiB (a compressed uplink batch of about a thousand
// records).
func BenchmarkPublish(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		for _, sync_ := range []bool{true, false} {
			nc := clustertest.Start(b, nodes, sync_)
			_, js, err := cluster.Connect(b.Context(), nc.URLs, "bench", slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			for _, size := range []int{100, 32 << 10} {
				for _, pubs := range []int{1, 8} {
					mode := map[bool]string{true: "sync", false: "async"}[sync_]
					name := fmt.Sprintf("R%d/%s/%dB/publishers=%d", nodes, mode, size, pubs)
					b.Run(name, func(b *testing.B) {
						stream := fmt.Sprintf("B%d", size*10+pubs)
						if _, err := js.CreateOrUpdateStream(b.Context(), jetstream.StreamConfig{Name: stream, Subjects: []string{stream + ".>"},
							Storage: jetstream.FileStorage, Replicas: nodes}); err != nil {
							b.Fatal(err)
						}
						defer js.DeleteStream(context.WithoutCancel(b.Context()), stream)
						data := make([]byte, size)
						b.SetBytes(int64(size))
						b.ResetTimer()
						var wg sync.WaitGroup
						per := b.N/pubs + 1
						for p := range pubs {
							wg.Go(func() {
								subj := fmt.Sprintf("%s.%d", stream, p)
								for range per {
									if _, err := js.Publish(b.Context(), subj, data); err != nil {
										b.Error(err)
										return
									}
								}
							})
						}
						wg.Wait()
						b.ReportMetric(float64(per*pubs)/b.Elapsed().Seconds(), "msg/s")
					})
				}
			}
		}
	}
}

// BenchmarkRateLimitKV measures what a rate-limit take kept in a NATS
// JetStream key-value bucket (R3, every write fsynced, as the uplink
// stream's nodes run) would cost: a read and a compare-and-set update of
// the bucket's key, the alternative to one PostgreSQL statement
// (internal/ratelimit BenchmarkTake; ADR "cluster rate limits").
func BenchmarkRateLimitKV(b *testing.B) {
	nc := clustertest.Start(b, 3, true)
	_, js, err := cluster.Connect(b.Context(), nc.URLs, "bench", slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	kv, err := js.CreateKeyValue(b.Context(), jetstream.KeyValueConfig{Bucket: "rates", Replicas: 3, Storage: jetstream.FileStorage})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := kv.Put(b.Context(), "caller", []byte("1")); err != nil {
		b.Fatal(err)
	}
	// A take reads the bucket and writes it back if unchanged; the read
	// may come from a replica behind the leader (a direct get): then the
	// write is refused and the take reads again.
	var retries int
	for b.Loop() {
		e, err := kv.Get(b.Context(), "caller")
		if err != nil {
			b.Fatal(err)
		}
		for ; ; retries++ {
			if _, err = kv.Update(b.Context(), "caller", e.Value(), e.Revision()); err == nil {
				break
			}
			if e, err = kv.Get(b.Context(), "caller"); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(retries)/float64(b.N), "retries/op")
}
