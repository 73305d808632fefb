//go:build !faultpoints

package edge

// faultPoint is where a binary built with -tags faultpoints can be made
// to crash (faultpoint_on.go); in every other build it does nothing.
func faultPoint(string) {}
