// Package importrules holds the test of the import rules of DESIGN.md's
// layout: the vocabulary (internal/uns) imports nothing of ours,
// connectors and the edge link none of the hub's storage, plumbing or
// domains, and the uplink protocol links no storage. It has no code of
// its own.
package importrules
