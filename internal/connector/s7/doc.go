// Package s7 is the edge's Siemens S7 input: it polls values of data
// blocks of an S7 PLC (S7-300, S7-400, S7-1200, S7-1500 with PUT/GET
// access allowed and the blocks not optimised) over S7comm on ISO-on-TCP,
// port 102, and maps them onto UNS series. It registers itself as the "s7"
// connector kind.
//
// The protocol is this package's own (wire.go: TPKT, COTP connection and
// data, S7 setup communication and read var of DB areas), as no maintained
// Go library of it is available here (see docs/adr, S7). Each poll reads
// the items in as few read var requests as the PDU length the CPU granted
// allows (plan): items of one data block are joined while the holes between
// them are at most max_gap bytes, and several joined ranges travel in one
// request. A joined range the CPU refuses as out of range is read item by
// item from then on, so that one wrong address costs only its own value.
//
// Failures are counted in Status.Rejected by reason and never stop the
// other items: a refused item under its return code's name
// (object_does_not_exist, address_out_of_range, access_denied, …), an
// answer that does not parse as bad_frame, an answer reporting an error for
// the whole request as s7_error, a real holding NaN or ±Inf as not_finite.
// Three bad answers in a row, a timeout or any I/O error drop the
// connection; it is made anew with back-off. The decoding of answers has a
// fuzz target (FuzzReadAnswer). Package s7test runs a minimal PLC
// in-process for the tests.
package s7
