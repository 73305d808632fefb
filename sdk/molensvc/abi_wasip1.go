//go:build wasip1

//lint:file-ignore U1000 the exports are called by the host (go:wasmexport), which staticcheck does not see

package molensvc

import (
	"errors"
	"unsafe"
)

// The exports of molen-svc/1. Results are packed as ptr<<32 | len.

//go:wasmexport molen_svc_abi_1
func abiVersion() {}

//go:wasmexport molen_buffer
func exportBuffer(n uint32) uint32 {
	b := mod.buffer(int(n))
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

//go:wasmexport molen_init
func exportInit(n uint32) uint64 { return pack(mod.init(int(n))) }

//go:wasmexport molen_process
func exportProcess(n uint32) uint64 { return pack(mod.process(int(n))) }

//go:wasmexport molen_tick
func exportTick(now int64) uint64 { return pack(mod.tick(now)) }

func pack(b []byte) uint64 {
	return uint64(uintptr(unsafe.Pointer(&b[0])))<<32 | uint64(len(b))
}

//go:wasmimport molen log
func hostLog(level int32, ptr unsafe.Pointer, n uint32)

//go:wasmimport molen metric
func hostMetric(ptr unsafe.Pointer, n uint32, v float64)

//go:wasmimport molen now
func hostNow() int64

//go:wasmimport molen state_get
func hostStateGet(kptr unsafe.Pointer, kn uint32, vptr unsafe.Pointer, vcap uint32) int32

//go:wasmimport molen state_set
func hostStateSet(kptr unsafe.Pointer, kn uint32, vptr unsafe.Pointer, vn uint32) int32

// Log writes a message to the edge's log, attributed to the install.
// Needs the log capability.
func Log(level Level, msg string) {
	hostLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

// Metric adds v to the install's counter name (exposed by the edge).
// Needs the metrics capability.
func Metric(name string, v float64) {
	hostMetric(unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)), v)
}

// Now returns the host's clock in unix ns: the edge's time, or the event
// time of the batch in `molen service test`. Needs the clock capability.
func Now() int64 { return hostNow() }

var stateBuf = make([]byte, 256)

// State returns the value of key in the install's state, which survives
// restarts of the module and of the edge. Needs the state capability.
func State(key string) ([]byte, bool) {
	for {
		n := hostStateGet(unsafe.Pointer(unsafe.StringData(key)), uint32(len(key)),
			unsafe.Pointer(&stateBuf[0]), uint32(len(stateBuf)))
		if n < 0 {
			return nil, false
		}
		if int(n) <= len(stateBuf) {
			return append([]byte(nil), stateBuf[:n]...), true
		}
		stateBuf = make([]byte, n)
	}
}

// SetState sets key to val in the install's state (an empty val deletes
// it). It reports false when the install's state limit is reached. Needs
// the state capability.
func SetState(key string, val []byte) bool {
	var vp unsafe.Pointer
	if len(val) > 0 {
		vp = unsafe.Pointer(&val[0])
	}
	return hostStateSet(unsafe.Pointer(unsafe.StringData(key)), uint32(len(key)), vp, uint32(len(val))) == 0
}

// mod is the module's state behind the exports.
var mod module

// buffer returns a buffer of at least n bytes for the host to write into.
func (m *module) buffer(n int) []byte {
	if cap(m.in) < n {
		m.in = make([]byte, n)
	}
	m.in = m.in[:n]
	return m.in
}

var errNotRegistered = errors.New("molensvc: no service registered (call molensvc.Register in an init function)")

func (m *module) init(n int) []byte {
	if registered == nil {
		return m.fail(errNotRegistered)
	}
	if err := registered.Init(m.in[:n]); err != nil {
		return m.fail(err)
	}
	m.out.reset()
	return m.ok()
}

func (m *module) process(n int) []byte {
	if registered == nil {
		return m.fail(errNotRegistered)
	}
	var err error
	clear(m.points)
	m.points, err = m.dec.decodeBatch(m.points[:0], m.in[:n])
	if err != nil {
		return m.fail(err)
	}
	m.out.reset()
	if err := registered.Process(m.points, &m.out); err != nil {
		return m.fail(err)
	}
	return m.ok()
}

func (m *module) tick(now int64) []byte {
	if registered == nil {
		return m.fail(errNotRegistered)
	}
	m.out.reset()
	if err := registered.Tick(now, &m.out); err != nil {
		return m.fail(err)
	}
	return m.ok()
}
