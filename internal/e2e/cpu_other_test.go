//go:build !unix

package e2e

import "time"

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }
