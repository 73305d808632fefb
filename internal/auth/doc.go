// Package auth turns bearer secrets into identities: API tokens into a
// Principal (organisation and role), edge credentials into an enrolled
// edge. Secrets are random, shown once, and stored only as SHA-256 hashes;
// the identity, and with it the tenant, comes from the secret alone, never
// from a URL, topic or payload.
package auth
