// Package auth is the domain of identities: the organisation tree
// (platform, hubs, fieldlabs, companies, providers), people and their
// memberships (one role per organisation), sign-in (argon2id passwords
// with lockout, TOTP second factors, OpenID Connect), browser sessions,
// one-time links (invitations, password resets, sign-in links), API
// tokens with scopes, grants (a company's data shared with its hub) and
// delegations (a hub's advisor acting for a company by its consent), a
// person's export and erasure, and the first start's organisations and
// admin token (Bootstrap). It authenticates tokens (Authenticate) and
// sessions (AuthenticateSession) into api.Principals for the router, and
// records what changes in the audit log, in the same transaction.
//
// Secrets are random, shown once, and stored only as SHA-256 hashes
// (internal/secret); the identity, and with it the tenant, comes from the
// secret alone, never from a URL, topic or payload. See docs/security.md
// and docs/adr/0007-identity.md.
package auth
