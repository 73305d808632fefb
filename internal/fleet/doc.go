// Package fleet is the domain of the hub's edges: registering them with
// one-time enrollment tokens, enrollment (a token exchanged for a
// credential the edge proposes), revocation, and the authentication of
// edge credentials into an api.Principal. It owns the edges table and the
// /api/v1/edges and /api/v1/enroll routes.
package fleet
