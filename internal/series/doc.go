// Package series is the domain of stored series: the API's queries of
// series, latest values, aggregates and events (read from internal/store,
// only the caller's organisation), and retention: the periods each
// organisation sets (its metadata table), their routes, and Expire, which
// the hub runs periodically.
package series
