// Package colblock is the column block codec of molen's stores: the
// points of one series, in time order, as a block of columns (timestamps
// as delta-of-deltas in their largest unit, qualities as runs, values by
// kind, floats as scaled decimals where they are), compressed with zstd.
// The embedded store (internal/store/sqlite) keeps every series' points
// older than its head in such blocks, the PostgreSQL store
// (internal/store/postgres) those older than its head age; both read and
// write the same format, so a block moves between them unchanged.
//
//	b := colblock.Compress(colblock.Encode(nil, samples))
//	raw, err := colblock.Decompress(b)
//	samples, err = colblock.Decode(samples[:0], raw)
//
// The format is versioned by its first byte (version 3; versions 1 and 2
// are still read). Decode refuses truncated or corrupt input with an
// error wrapping ErrCorrupt and never allocates more than MaxPoints
// samples a block. The lower-level pieces (Reader, ValueCols, the float
// columns) are exported for the embedded store's rollup and chunk
// encodings, which share them.
package colblock
