// Package hub composes a molen hub: it opens the two storage layers (the
// time series in internal/store, the domains' metadata in internal/meta),
// makes the domains (auth, fleet, series, reports, ingest), registers their
// routes with /healthz, /metrics and the web UI on one api.Router and one
// HTTP listener, and runs the periodic jobs (retention) under leases, so
// that of several hubs sharing a database one runs each job at a time.
// Nothing here reads or writes a domain's tables: it calls the domains.
//
// On first start with an empty database the hub creates the organisation
// "default" and an admin API token for it, in one transaction, writes the
// token to <data>/admin-token (mode 0600) and prints it once.
package hub
