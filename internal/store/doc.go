// Package store defines what the hub needs from storage: points with their
// uplink watermarks (Points) and the hub's own records of organisations, API
// tokens and edges (Meta). Backends live in sub-packages and all pass the
// shared conformance suite in storetest.
//
// Every query takes the organisation whose data it may see; a backend never
// returns another organisation's data, whatever the other arguments say.
package store
