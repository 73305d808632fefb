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
