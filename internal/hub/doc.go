// Package hub composes a molen hub: storage, the uplink receiver, the API,
// the web UI, /healthz and /metrics on one HTTP listener.
//
// On first start with an empty data directory the hub creates the
// organisation "default" and an admin API token for it, writes the token to
// <data>/admin-token (mode 0600) and prints it once.
package hub
