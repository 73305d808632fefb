// Package opcua is the edge's OPC UA input: it reads variables of one OPC
// UA server (a machine, a PLC, a gateway) and maps them onto UNS series. It
// registers itself as the "opcua" connector kind. The protocol stack is
// github.com/gopcua/opcua.
//
// Nodes are listed explicitly (NodeID → UNS path), or found by browse
// rules: on every connection the input browses from each rule's root along
// hierarchical references and maps the variables whose browse-name paths
// match the rule's pattern ('+' one name, '#' any depth) through a path
// template ({n}, {n+}); explicit nodes win over matches, and invalid,
// duplicate and excess (max_browse_nodes) matches are counted, not read.
// In subscribe mode (the
// default) the input creates one subscription with a monitored item per
// node, with the configured sampling interval and queue size; a server that
// refuses subscriptions (BadServiceUnsupported, BadTooManySubscriptions, …)
// is polled instead, and each such session is counted under
// subscribe_refused. Nodes the server refuses to monitor are polled too
// (monitor_refused). In poll mode every node is read each poll interval.
//
// Security: the mode (None, Sign, SignAndEncrypt) has no default, so an
// unencrypted connection is always a choice written in the config. With
// Sign and SignAndEncrypt the input presents its certificate and accepts
// the server only if the server's certificate is in the trust list
// (trusted_server_certificates, and pki_dir's trusted/ read at every
// attempt) or signed by a certificate in it. With pki_dir, a server
// certificate it does not trust is saved in rejected/ for an operator to
// approve by moving it to trusted/ (pki.go; NewCertificate and
// WriteCredentials make the edge's certificate for `molen opcua cert`).
// The status shows the server's certificate and its thumbprints. Sessions
// are anonymous or user name and password; the password is never logged
// (Secret).
//
// Values: scalar Boolean, integers, Float, Double and String become UNS
// values; the status code's severity becomes the quality (Good, Uncertain);
// Bad values are not written but counted under bad_status, as are values of
// other types (unsupported_type), NaN and infinities (not_finite) and
// UInt64 beyond int64 (out_of_range). Timestamps are the source timestamp,
// else the server timestamp, else the time of arrival. A monitored item's
// queue overflow (the server dropped samples) counts in Status.Dropped.
//
// Each session is a new client: a lost connection, a failed probe or a
// notification error ends it, and Run makes a new one with back-off, which
// subscribes anew. Package opcuatest runs a server in-process for tests.
package opcua
