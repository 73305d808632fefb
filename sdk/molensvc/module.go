package molensvc

// module is the state behind the exports: the input buffer the host
// writes into, the decoded batch, the output and the encoded result.
type module struct {
	in     []byte
	dec    decoder
	points []Point
	out    Output
	result []byte
}

func (m *module) ok() []byte {
	m.result = appendResult(m.result[:0], &m.out)
	return m.result
}

func (m *module) fail(err error) []byte {
	m.result = appendError(m.result[:0], err)
	return m.result
}
