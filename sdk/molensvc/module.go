package molensvc

import "errors"

// module is the state behind the exports: the input buffer the host
// writes into, the decoded batch, the output and the encoded result.
type module struct {
	in     []byte
	dec    decoder
	points []Point
	out    Output
	result []byte
}

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

func (m *module) ok() []byte {
	m.result = appendResult(m.result[:0], &m.out)
	return m.result
}

func (m *module) fail(err error) []byte {
	m.result = appendError(m.result[:0], err)
	return m.result
}
