package cli

import (
	"runtime/debug"
	"testing"
)

// inForce is the GOGC the runtime uses now.
func inForce() int {
	n := debug.SetGCPercent(100)
	debug.SetGCPercent(n)
	return n
}

func TestEdgeGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	debug.SetGCPercent(100)
	unset := func(string) (string, bool) { return "", false }
	if got := edgeGC(unset); got != edgeGCPercent || inForce() != edgeGCPercent {
		t.Errorf("GOGC unset: edgeGC = %d, in force %d; want the edge's default %d", got, inForce(), edgeGCPercent)
	}

	// $GOGC set: the runtime read it at start (here: 80); the edge keeps it.
	debug.SetGCPercent(80)
	set := func(string) (string, bool) { return "80", true }
	if got := edgeGC(set); got != 80 || inForce() != 80 {
		t.Errorf("GOGC=80: edgeGC = %d, in force %d; want 80 kept", got, inForce())
	}
}
