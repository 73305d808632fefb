//go:build !unix

package edge

// cpuMeter measures nothing where the process's CPU time is not at hand.
type cpuMeter struct{}

func (*cpuMeter) percent() float64 { return 0 }

func diskSpace(string) (free, total uint64) { return 0, 0 }
