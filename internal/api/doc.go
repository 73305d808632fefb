// Package api is the hub's HTTP plumbing: a Router on which every domain
// registers its routes, each with the Access it demands; authentication of
// bearer secrets into a Principal in the request's context; bounded
// request bodies; JSON answers; and Status, the only place that maps
// errors to HTTP status codes. Handlers return (value, error) and never
// write a status themselves: domains return errors wrapping sentinels
// (ErrBadRequest, meta.ErrNotFound, uplink.ErrMalformed, …).
//
// The organisation a request may see comes from its credential alone.
// Router.Routes lists every route, so a test can call each one without
// credentials, or with another organisation's.
package api
