// Package cli implements molen's subcommands: it parses flags into the
// components' configs, wires logging and signals, and runs them. It holds no
// logic of its own beyond that.
package cli
