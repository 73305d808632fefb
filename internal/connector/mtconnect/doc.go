// Package mtconnect is the edge's MTConnect input: it reads the samples,
// events and conditions of an MTConnect agent over HTTP (the REST protocol
// of MTConnect Part 1, the Streams documents of Part 3) and maps its data
// items, by id or name, onto UNS series. It registers itself as the
// "mtconnect" connector kind.
//
// The input asks for current once, and from then on for
// sample?from=<nextSequence>&count=<count>, each request starting where the
// last answer ended, so that every observation in the agent's buffer is
// read exactly once across polls; a backlog larger than count is read in
// requests one after the other, without waiting for the poll interval. The
// next request is made only once the sink took the points of the last
// answer. When the agent's buffer moved past the sequence asked for (the
// agent answers OUT_OF_RANGE), the observations it no longer holds are
// counted in Status.Dropped and the input reads current again; an agent
// that restarted (a new instanceId) is read from current as well.
//
// Samples become floats and events strings unless an item says int, float
// or string. An UNAVAILABLE value repeats the series' last value with
// quality bad (nothing if it never had one). Conditions become events of
// kind "condition" on the item's path, when the sink takes events
// (connector.EventSink): Warning or Fault opens one per nativeCode, Normal
// closes it (without a nativeCode: all of them), Unavailable closes all.
//
// What the input cannot use is counted in Status.Rejected: bad_document (a
// malformed or truncated answer, another document than MTConnectStreams;
// the same request is made again at the next poll, so nothing is skipped),
// agent_error (an MTConnectError other than OUT_OF_RANGE), bad_value and
// bad_timestamp (one observation, skipped; the others are delivered).
// Package mtconnecttest runs an agent in-process for tests and the
// simulated factory.
package mtconnect
