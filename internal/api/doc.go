// Package api is the hub's HTTP plumbing: a Router on which every domain
// registers its routes, each with the policy (Access) it demands; rate
// limits (Limits, behind the Limiter interface); authentication of bearer
// secrets and session cookies into a Principal in the request's context,
// with the CSRF check of cookie requests that change something; Allow, the
// one function that decides whether a principal may call a route; DataOrg
// and DataPrefix, which decide whose data a query reads (the caller's, or
// another organisation's under its grant); the security headers; bounded
// request bodies; JSON answers; the audit of changes, delegated requests
// and reads under grants (Auditor); and Status, the only place that maps
// errors to HTTP status codes. Handlers return (value, error) and never
// write a status themselves: domains return errors wrapping sentinels
// (ErrBadRequest, meta.ErrNotFound, uplink.ErrMalformed, …).
//
// The organisation a request may see comes from its credential alone.
// Router.Routes lists every route, so a test can call each one without
// credentials, as another organisation, and as every weaker role.
package api
