package ratelimit

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Postgres is an api.Limiter with its buckets in a PostgreSQL table
// shared by the hub replicas of a cluster (docs/cluster.md): a client
// that sends its requests to several replicas is limited once, not once
// per replica. One statement per Take (ADR "cluster rate limits").
//
// When PostgreSQL does not answer (a restart), Take falls back to a
// bucket in this process's memory rather than refuse or fail the
// request: for that while, the limits are per replica again
// (Fallbacks counts those takes).
type Postgres struct {
	db       *meta.DB
	fallback *Memory
	log      *slog.Logger
	fellBack atomic.Int64

	mu    sync.Mutex // guards swept
	swept time.Time
}

// NewPostgres returns a Postgres limiter on db, creating its table.
func NewPostgres(ctx context.Context, db *meta.DB, log *slog.Logger) (*Postgres, error) {
	if db.Dialect() != meta.Postgres {
		return nil, errors.New("ratelimit: the shared limiter needs PostgreSQL")
	}
	if err := db.Migrate(ctx, meta.Migrations{Domain: "ratelimit", FS: meta.Dir(migrations, "migrations")}); err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	return &Postgres{db: db, fallback: NewMemory(), log: log}, nil
}

// take refills the bucket of $1 (burst $2, $3 tokens a second) up to now
// ($4, unix ns) and takes one token if there is one; it answers the
// tokens left and whether one was taken. A clock behind the last refill
// (another replica's) refills nothing.
const take = `
INSERT INTO rate_buckets AS b (key, tokens, at, took, expires) VALUES ($1, $2 - 1, $4, true, $5)
ON CONFLICT (key) DO UPDATE SET
    tokens = LEAST($2, b.tokens + GREATEST($4 - b.at, 0) * $3 / 1e9)
        - CASE WHEN LEAST($2, b.tokens + GREATEST($4 - b.at, 0) * $3 / 1e9) >= 1 THEN 1 ELSE 0 END,
    took = LEAST($2, b.tokens + GREATEST($4 - b.at, 0) * $3 / 1e9) >= 1,
    at = GREATEST(b.at, $4),
    expires = GREATEST(b.expires, $5)
RETURNING tokens, took`

// Take implements api.Limiter.
func (p *Postgres) Take(ctx context.Context, key string, r api.Rate, now time.Time) (time.Duration, error) {
	if r.PerSecond <= 0 {
		return 0, nil
	}
	burst := float64(max(r.Burst, 1))
	full := time.Duration(burst / r.PerSecond * float64(time.Second))
	p.sweep(ctx, now)
	var (
		tokens float64
		took   bool
	)
	err := p.db.QueryRowContext(ctx, take, key, burst, r.PerSecond, now.UnixNano(), now.Add(full).UnixNano()).Scan(&tokens, &took)
	if err != nil {
		if ctx.Err() != nil {
			return 0, err
		}
		if p.fellBack.Add(1) == 1 {
			p.log.Warn("rate limits kept in this replica's memory: PostgreSQL does not answer", "err", err)
		}
		return p.fallback.Take(ctx, key, r, now)
	}
	if took {
		return 0, nil
	}
	return time.Duration((1 - tokens) / r.PerSecond * float64(time.Second)), nil
}

// Fallbacks is the number of takes answered from memory because
// PostgreSQL did not answer.
func (p *Postgres) Fallbacks() int64 { return p.fellBack.Load() }

// sweep drops the buckets full again, once every sweepEvery per replica.
func (p *Postgres) sweep(ctx context.Context, now time.Time) {
	p.mu.Lock()
	due := now.Sub(p.swept) > sweepEvery
	if due {
		p.swept = now
	}
	p.mu.Unlock()
	if !due {
		return
	}
	if _, err := p.db.ExecContext(ctx, `DELETE FROM rate_buckets WHERE expires < $1`, now.UnixNano()); err != nil && ctx.Err() == nil {
		p.log.Warn("rate limits: sweep full buckets", "err", err)
	}
}
