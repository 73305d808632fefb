package pipeline

import "github.com/molen-io/molen/internal/uns"

// Stage transforms a batch of points. It may reuse pts' backing array for its
// result and must not keep pts after returning. Process is called from many
// device connections at once, so a Stage must be safe for concurrent use.
type Stage interface {
	Process(pts []uns.Point) []uns.Point
}

// Passthrough forwards every point unchanged.
type Passthrough struct{}

// Process returns pts.
func (Passthrough) Process(pts []uns.Point) []uns.Point { return pts }
