// Package store is the hub's time-series storage: points with their
// uplink watermarks and rollups (Points), events (Events), and the
// expiry of old data by a retention (Points.Expire). Backends live in
// sub-packages and all pass the shared conformance suite in storetest.
// The hub's other records (organisations, tokens, edges, retention
// settings) are in internal/meta, owned by their domains.
//
// Every query takes the organisation whose data it may see; a backend never
// returns another organisation's data, whatever the other arguments say.
package store
