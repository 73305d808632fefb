package outbox

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkAppend measures Append throughput: b.N records of one size from
// a number of goroutines, with fsync before return or on an interval.
func BenchmarkAppend(b *testing.B) {
	for _, sync := range []struct {
		name     string
		interval time.Duration
	}{{"always", 0}, {"interval=10ms", 10 * time.Millisecond}} {
		for _, goroutines := range []int{1, 8} {
			for _, size := range []int{256, 1024, 4096} {
				b.Run(fmt.Sprintf("sync=%s/goroutines=%d/size=%d", sync.name, goroutines, size), func(b *testing.B) {
					benchAppend(b, Options{SyncInterval: sync.interval}, goroutines, size)
				})
			}
		}
	}
}

func benchAppend(b *testing.B, opts Options, goroutines, size int) {
	l, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	data := payload("bench", size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := range goroutines {
		n := b.N / goroutines
		if g < b.N%goroutines {
			n++
		}
		wg.Go(func() {
			for range n {
				if _, err := l.Append(context.Background(), data, 10); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRead measures sequential Read throughput over a filled log (in
// the page cache), in batches as the forwarder reads.
func BenchmarkRead(b *testing.B) {
	for _, size := range []int{256, 4096} {
		b.Run(fmt.Sprintf("size=%d/batch=500", size), func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{SyncInterval: time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			const n = 20000
			data := payload("bench", size)
			for range n {
				if _, err := l.Append(context.Background(), data, 10); err != nil {
					b.Fatal(err)
				}
			}
			if err := l.Wait(context.Background(), n-1); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			next := uint64(1)
			for read := 0; read < b.N; {
				es, err := l.Read(next, min(500, b.N-read), 0)
				if err != nil {
					b.Fatal(err)
				}
				if len(es) == 0 {
					next = 1
					continue
				}
				read += len(es)
				next = es[len(es)-1].Seq + 1
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
