//go:build faultpoints

package edge

import (
	"os"
	"strings"
)

// faultKill is MOLEN_FAULT_KILL: the fault points (comma-separated) at
// which the edge kills itself with SIGKILL. Only a binary built with
// -tags faultpoints has them; internal/faults builds one to crash the edge
// at exact moments inside an apply.
var faultKill = strings.Split(os.Getenv("MOLEN_FAULT_KILL"), ",")

// faultPoint kills the process (SIGKILL, as kill -9 does) when
// MOLEN_FAULT_KILL names point.
func faultPoint(point string) {
	for _, p := range faultKill {
		if p == point {
			self, _ := os.FindProcess(os.Getpid())
			_ = self.Kill()
			select {} // the signal is on its way
		}
	}
}
