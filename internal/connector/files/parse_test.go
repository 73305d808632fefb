package files

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/uns"
)

// FuzzParse: any file either parses into valid points, in batches no
// larger than batch_points, or fails with an error; it never panics, and
// parsing it twice gives the same points (what makes a re-read batch the
// same message).
func FuzzParse(f *testing.F) {
	f.Add("csv", "time,a,b\n2026-03-01T08:00:00Z,1,x\n")
	f.Add("csv", "time,a\n\"2026-03-01T08:00:00Z\",\"1\n2\"\n")
	f.Add("json", `[{"time":"2026-03-01T08:00:00Z","a":1.5,"b":true}]`)
	f.Add("jsonl", "{\"time\":\"2026-03-01T08:00:00Z\",\"a\":null}\n{\"time\":\"2026-03-01T08:00:00Z\",\"a\":\"s\"}\n")
	f.Fuzz(func(t *testing.T, format, content string) {
		switch format {
		case FormatCSV, FormatJSON, FormatJSONL:
		default:
			return
		}
		cfg := NewConfig()
		cfg.Dir, cfg.Series, cfg.TimeColumn, cfg.BatchPoints = "x", "s/a", "time", 3
		parse := func() ([]uns.Point, error) {
			p, err := newParser(cfg, format, strings.NewReader(content), 1)
			if err != nil {
				return nil, err
			}
			var all []uns.Point
			for {
				pts, err := p.batch()
				if err == io.EOF {
					return all, nil
				}
				if err != nil {
					return nil, err
				}
				if len(pts) == 0 {
					t.Fatal("an empty batch before the end")
				}
				if len(pts) > cfg.BatchPoints && len(all) > 0 {
					t.Fatalf("a batch of %d points after the first, batch_points %d", len(pts), cfg.BatchPoints)
				}
				for _, pt := range pts {
					if err := uns.ValidatePath(pt.Series); err != nil || pt.Value.Kind() == uns.KindInvalid || pt.TS <= 0 {
						t.Fatalf("bad point %+v (%v)", pt, err)
					}
				}
				all = append(all, pts...)
			}
		}
		a, errA := parse()
		b, errB := parse()
		if (errA == nil) != (errB == nil) || !bytes.Equal(fmt.Append(nil, a), fmt.Append(nil, b)) {
			t.Fatalf("two parses differ: %v %v / %v %v", a, errA, b, errB)
		}
	})
}

// BenchmarkParseCSV measures the first pass over a wide CSV file (parse,
// no write): rows of a time and four numeric columns.
func BenchmarkParseCSV(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("time,temp,pressure,count,speed\n")
	const rows = 10000
	for i := range rows {
		fmt.Fprintf(&sb, "2026-03-01T08:%02d:%02dZ,%d.5,1012.%d,%d,%d\n", (i/60)%60, i%60, 20+i%5, i%10, i, 1200+i%50)
	}
	data := sb.String()
	cfg := NewConfig()
	cfg.Dir, cfg.Series, cfg.TimeColumn = "x", "s/a", "time"
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := newParser(cfg, FormatCSV, strings.NewReader(data), 1)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			pts, err := p.batch()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += len(pts)
		}
		if n != 4*rows {
			b.Fatalf("%d points", n)
		}
	}
	b.ReportMetric(float64(4*rows*b.N)/b.Elapsed().Seconds(), "points/s")
}
