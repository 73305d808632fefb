// Package modbus is the edge's Modbus input: it polls one device over
// Modbus TCP, RTU on a serial port of the edge, or RTU frames over TCP
// through a serial gateway, and maps its
// holding registers, input registers, coils and discrete inputs onto UNS
// series. It registers itself as the "modbus" connector kind.
//
// Registers are 16-bit; a value spans 1 (int16, uint16), 2 (int32, uint32,
// float32) or 4 (float64) of them in the device's byte and word order (see
// Order), and becomes raw*scale + offset. Integers without scale or offset
// stay integers; everything else is a float. Coils and discrete inputs are
// bools.
//
// Each poll reads the configured registers in as few requests as the
// protocol allows (plan): registers of the same table are joined while a
// request stays within max_registers (at most 125; 2000 bits for coils and
// discrete inputs) and the holes it reads through are at most max_gap
// registers. If the device refuses a joined request with "illegal data
// address", its registers are read one by one from then on, so that one bad
// address costs only its own value.
//
// Failures are counted in Status.Rejected by reason and described in
// Status.LastError, and never stop the other registers: Modbus exceptions
// under their name (illegal_data_address, server_device_busy, …), responses
// that do not parse as bad_frame, RTU responses with a wrong CRC as bad_crc,
// requests without a response as timeout,
// float values that are NaN or infinite as not_finite. Three bad frames or
// timeouts in a row, or any I/O error, drop the connection; it is made anew
// with back-off.
//
// The library used, github.com/simonvetter/modbus, parses the frames and
// drives the serial port (through github.com/goburrow/serial; see
// docs/adr, Modbus RTU on a serial port); the decoding of register words
// into values is this package's and has a fuzz target (FuzzDecode).
// Package modbustest runs a device in-process, on TCP or on a serial port,
// for tests and the simulated factory.
package modbus
