// Package e2e holds end-to-end tests that run hub, edge and simulator
// together in one process on ephemeral ports and check what arrives.
package e2e
