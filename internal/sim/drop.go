package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The leak tester: an end-of-line tester that writes its results as CSV
// files into a folder, as testers and older machines do; the edge reads
// them with its files input.
const (
	LeakTester = "leak-tester"
	// DropRows is the parts tested per file: the tester tests one part a
	// tick and writes a file every DropRows parts.
	DropRows = 10
	// LeakLimit is the leak rate (mbar·l/s) above which a part fails.
	LeakLimit = 0.1
)

// leakTester makes the tester's results and writes their files.
type leakTester struct {
	dir, asset string
	rng        *rand.Rand
	part       int // parts tested
	rows       strings.Builder
	n          int // rows in rows
}

func newLeakTester(dir, asset string, seed int64) (*leakTester, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("drop folder: %w", err)
	}
	return &leakTester{dir: dir, asset: asset, rng: rand.New(rand.NewPCG(uint64(seed), 0x1eaf))}, nil
}

// test tests one part at now and writes a file every DropRows parts.
func (l *leakTester) test(now time.Time) error {
	l.part++
	// Test pressure around 1 bar; leak rates log-normal around 0.02, a few
	// percent of parts above the limit.
	pressure := 1000 + 15*l.rng.NormFloat64()
	leak := 0.02 * math.Exp(0.8*l.rng.NormFloat64())
	result := "pass"
	if leak > LeakLimit {
		result = "fail"
	}
	fmt.Fprintf(&l.rows, "%s;P%06d;%.1f;%.4f;%s\n", now.UTC().Format(time.RFC3339Nano), l.part, pressure, leak, result)
	if l.n++; l.n < DropRows {
		return nil
	}
	content := "time;part;pressure_mbar;leak_rate;result\n" + l.rows.String()
	l.rows.Reset()
	l.n = 0
	// Written under .part and renamed when complete, so that the edge
	// never reads half a file.
	name := filepath.Join(l.dir, fmt.Sprintf("leak-%s-%06d.csv", now.UTC().Format("20060102T150405"), l.part))
	if err := os.WriteFile(name+".part", []byte(content), 0o644); err != nil {
		return fmt.Errorf("leak tester: %w", err)
	}
	if err := os.Rename(name+".part", name); err != nil {
		return fmt.Errorf("leak tester: %w", err)
	}
	return nil
}
