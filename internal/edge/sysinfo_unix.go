//go:build unix

package edge

import (
	"sync"
	"syscall"
	"time"
)

// cpuMeter measures the process's CPU use between two readings.
type cpuMeter struct {
	mu       sync.Mutex
	lastAt   time.Time
	lastUsed time.Duration
}

// percent is the process's CPU use since the last call, in percent of
// one core (0 at the first call).
func (m *cpuMeter) percent() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var p float64
	if !m.lastAt.IsZero() && now.After(m.lastAt) {
		p = 100 * float64(used-m.lastUsed) / float64(now.Sub(m.lastAt))
	}
	m.lastAt, m.lastUsed = now, used
	return p
}

// diskSpace is the free and total bytes of the file system holding dir.
func diskSpace(dir string) (free, total uint64) {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0, 0
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize)
}
