//go:build !wasip1

package molensvc

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// Outside WebAssembly the host functions are backed by memory, so that a
// service's logic can be tested with go test.

var (
	stateMu sync.Mutex
	state   = map[string][]byte{}
	metrics = map[string]float64{}
)

// Log writes msg to stderr.
func Log(level Level, msg string) { fmt.Fprintf(os.Stderr, "molensvc: level %d: %s\n", level, msg) }

// Metric adds v to the counter name.
func Metric(name string, v float64) {
	stateMu.Lock()
	metrics[name] += v
	stateMu.Unlock()
}

// Now returns the wall clock.
func Now() int64 { return time.Now().UnixNano() }

// State returns the value of key.
func State(key string) ([]byte, bool) {
	stateMu.Lock()
	defer stateMu.Unlock()
	v, ok := state[key]
	return append([]byte(nil), v...), ok
}

// SetState sets key to val; an empty val deletes it.
func SetState(key string, val []byte) bool {
	stateMu.Lock()
	defer stateMu.Unlock()
	if len(val) == 0 {
		delete(state, key)
	} else {
		state[key] = append([]byte(nil), val...)
	}
	return true
}
