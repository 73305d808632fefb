// Package api is the hub's HTTP API under /api/v1/. It is the only place
// that maps errors to HTTP status codes; everything below it returns errors
// that say what failed, with sentinels (store.ErrNotFound,
// auth.ErrUnauthenticated, uplink.ErrMalformed, …) for what callers act on.
// The organisation a request may see comes from its bearer token alone.
package api
