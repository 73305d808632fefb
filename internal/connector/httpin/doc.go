// Package httpin is the edge's HTTP input: devices and scripts POST points
// to it, in the payload shapes the edge's MQTT listener accepts (see
// uns.Decode), one payload per request or a batch of lines. It answers 204
// only once the points are durable in the edge's log, 400 (or 413) with the
// reason for a request it rejects, counted, and 503 when the log cannot
// take them, so that the client retries. It registers itself as the "http"
// connector kind.
package httpin
