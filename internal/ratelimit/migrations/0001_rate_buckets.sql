-- PostgreSQL only: the shared limiter runs with hub replicas, which need
-- PostgreSQL. UNLOGGED: a bucket is not worth a WAL write; after a crash
-- of the server the buckets start full again.
CREATE UNLOGGED TABLE IF NOT EXISTS rate_buckets (
    key     TEXT PRIMARY KEY,
    tokens  DOUBLE PRECISION NOT NULL,
    at      BIGINT NOT NULL,  -- unix ns of the last refill
    took    BOOLEAN NOT NULL, -- whether the last Take got a token
    expires BIGINT NOT NULL   -- unix ns when the bucket is full again at the latest
);
CREATE INDEX IF NOT EXISTS rate_buckets_expires ON rate_buckets (expires);
