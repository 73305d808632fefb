// Package auth is the domain of organisations and API tokens (and, as
// they come, users, grants and audit): their tables, the service that
// keeps them, the authentication of API tokens into an api.Principal, the
// first start's organisation and admin token (Bootstrap), and its routes.
//
// Secrets are random, shown once, and stored only as SHA-256 hashes
// (internal/secret); the identity, and with it the tenant, comes from the
// secret alone, never from a URL, topic or payload.
package auth
