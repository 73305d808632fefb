// Package cluster is the NATS side of a hub cluster (docs/cluster.md):
// an embedded NATS server with JetStream that joins its peers by routes,
// and the connection a hub replica opens to the cluster. The streams and
// consumers themselves belong to the domains that use them (the uplink's
// in internal/ingest).
package cluster
