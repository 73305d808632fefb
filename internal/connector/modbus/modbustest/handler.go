package modbustest

import (
	mb "github.com/simonvetter/modbus"
)

// handler answers the library's server from the Server's tables.
type handler struct{ s *Server }

func (h handler) HandleCoils(req *mb.CoilsRequest) ([]bool, error) {
	if req.IsWrite {
		h.s.requests.Add(1)
		h.s.setBits(tCoil, req.Addr, req.Args)
		return nil, nil
	}
	return h.bits(tCoil, req.Addr, req.Quantity)
}

func (h handler) HandleDiscreteInputs(req *mb.DiscreteInputsRequest) ([]bool, error) {
	return h.bits(tDiscrete, req.Addr, req.Quantity)
}

func (h handler) HandleHoldingRegisters(req *mb.HoldingRegistersRequest) ([]uint16, error) {
	if req.IsWrite {
		h.s.requests.Add(1)
		h.s.setWords(tHolding, req.Addr, req.Args)
		return nil, nil
	}
	return h.words(tHolding, req.Addr, req.Quantity)
}

func (h handler) HandleInputRegisters(req *mb.InputRegistersRequest) ([]uint16, error) {
	return h.words(tInput, req.Addr, req.Quantity)
}

func (h handler) words(t int, addr, n uint16) ([]uint16, error) {
	h.s.requests.Add(1)
	var table map[uint16]uint16
	if t == tHolding && h.s.holdFunc != nil {
		table = h.s.holdFunc() // outside the lock: it is the caller's code
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if table == nil {
		table = h.s.tables[t]
	}
	out := make([]uint16, n)
	for i := range out {
		w, ok := table[addr+uint16(i)]
		if !ok {
			return nil, mb.ErrIllegalDataAddress
		}
		out[i] = w
	}
	return out, nil
}

func (h handler) bits(t int, addr, n uint16) ([]bool, error) {
	h.s.requests.Add(1)
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	out := make([]bool, n)
	for i := range out {
		w, ok := h.s.tables[t][addr+uint16(i)]
		if !ok {
			return nil, mb.ErrIllegalDataAddress
		}
		out[i] = w != 0
	}
	return out, nil
}
