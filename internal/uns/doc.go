// Package uns is molen's vocabulary: points, values, qualities and Unified
// Namespace paths, and the decoder that turns an MQTT topic and JSON payload
// into points. It imports nothing of molen's own, so every other package can
// depend on it.
package uns
