package postgres

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/store"
)

// partitionLockTimeout bounds how long creating a partition waits for its
// lock on points (ACCESS EXCLUSIVE, which queues behind running queries and
// ahead of new ones): past it the Ingest fails and may be retried, rather
// than stalling every reader behind a long query.
const partitionLockTimeout = 10 * time.Second

// partitionStart is the start of the partition that holds ts (>= 0).
func (s *Store) partitionStart(ts int64) int64 { return ts - ts%s.interval }

// partitionName names the partition starting at start after its UTC
// start hour: points_20250314_00.
func partitionName(start int64) string {
	return "points_" + time.Unix(0, start).UTC().Format("20060102_15")
}

// ensurePartitions creates the missing partitions for the timestamps of
// recs. Each partition is created in its own transaction before the
// ingest transaction: CREATE TABLE ... PARTITION OF takes an ACCESS
// EXCLUSIVE lock on points, which inside the ingest transaction would be
// held until its commit and could deadlock with other writers. A
// partition left empty by an ingest that then fails costs nothing.
func (s *Store) ensurePartitions(ctx context.Context, recs []store.Record) error {
	var missing []int64
	last := int64(-1)
	s.mu.Lock()
	for _, r := range recs {
		for _, p := range r.Points {
			start := s.partitionStart(p.TS)
			if start == last {
				continue
			}
			last = start
			if _, ok := s.parts[start]; !ok && !slices.Contains(missing, start) {
				missing = append(missing, start)
			}
		}
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	s.partMu.Lock()
	defer s.partMu.Unlock()
	for _, start := range missing {
		s.mu.Lock()
		_, ok := s.parts[start]
		s.mu.Unlock()
		if ok {
			continue
		}
		if err := s.createPartition(ctx, start); err != nil {
			return err
		}
		s.mu.Lock()
		s.parts[start] = struct{}{}
		s.mu.Unlock()
	}
	return nil
}

// forgetPartitions empties the partition cache, after an insert found no
// partition for a row.
func (s *Store) forgetPartitions() {
	s.mu.Lock()
	clear(s.parts)
	s.mu.Unlock()
}

// createPartition creates the partition starting at start unless it
// exists. Another hub creating it at the same moment makes the statement
// fail with a duplicate; that is success too.
//
// DDL takes no parameters: the partition's identifiers are quoted with
// pgx.Identifier.Sanitize and its bounds are int64s formatted here, so no
// input text reaches the statement.
func (s *Store) createPartition(ctx context.Context, start int64) error {
	name := partitionName(start)
	hi := "MAXVALUE"
	if start <= math.MaxInt64-s.interval {
		hi = strconv.FormatInt(start+s.interval, 10)
	}
	ddl := `CREATE TABLE IF NOT EXISTS ` + pgx.Identifier{s.schema, name}.Sanitize() +
		` PARTITION OF ` + pgx.Identifier{s.schema, "points"}.Sanitize() +
		` FOR VALUES FROM (` + strconv.FormatInt(start, 10) + `) TO (` + hi + `)`
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`, strconv.FormatInt(partitionLockTimeout.Milliseconds(), 10)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, ddl)
		return err
	})
	switch pgCode(err) {
	case "":
		if err != nil {
			return fmt.Errorf("create partition %s: %w", name, err)
		}
	case codeDuplicateTable, codeUniqueViolation, codeInvalidObjDef:
		// Created concurrently by another transaction, or the range is
		// covered by a partition of another name (42P17: would overlap);
		// if a row still finds no partition, Ingest says so.
	default:
		return fmt.Errorf("create partition %s: %w", name, err)
	}
	return nil
}
