// Package fleet manages the hub's edges: registering them with one-time
// enrollment tokens. (Enrollment itself, the exchange of a token for a
// credential, is in the API; revocation is a store operation.)
package fleet
