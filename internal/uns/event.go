package uns

import (
	"errors"
	"fmt"
	"strings"
)

// Event is something that happened to an asset over an interval: a machine
// state, a downtime, an alarm, an anomaly. End is 0 while it lasts; a later
// version of the same event (same asset, kind, start and key attributes)
// carries its end.
type Event struct {
	Asset string            // UNS asset path, e.g. site/area/line/machine
	Kind  string            // state, downtime, alarm, anomaly, …
	Start int64             // unix ns
	End   int64             // unix ns; 0 while open
	Attrs map[string]string // reason, value, score, … (small; operators reuse keys)
}

// EventKeyAttrs are the attributes that, with asset, kind and start,
// identify an event: an asset can have an alarm per series and limit open
// at once.
var EventKeyAttrs = []string{"series", "limit"}

// Limits on an event, checked by ValidateEvent.
const (
	MaxEventKind  = 32
	MaxEventAttrs = 32
	MaxAttrLen    = 256
)

// ErrInvalidEvent is wrapped by every event validation error.
var ErrInvalidEvent = errors.New("invalid event")

// ValidateEvent checks an event before it is stored or sent.
func ValidateEvent(e Event) error {
	if e.Asset == "" {
		return fmt.Errorf("%w: empty asset", ErrInvalidEvent)
	}
	if err := ValidatePrefix(e.Asset); err != nil {
		return fmt.Errorf("%w: asset: %v", ErrInvalidEvent, err)
	}
	if e.Kind == "" || len(e.Kind) > MaxEventKind {
		return fmt.Errorf("%w: kind %q: want 1..%d characters", ErrInvalidEvent, e.Kind, MaxEventKind)
	}
	for i := 0; i < len(e.Kind); i++ {
		if c := e.Kind[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: kind %q: use a-z 0-9 _ -", ErrInvalidEvent, e.Kind)
		}
	}
	if e.Start < 0 || e.End != 0 && e.End < e.Start {
		return fmt.Errorf("%w: interval [%d, %d]", ErrInvalidEvent, e.Start, e.End)
	}
	if len(e.Attrs) > MaxEventAttrs {
		return fmt.Errorf("%w: %d attributes, limit %d", ErrInvalidEvent, len(e.Attrs), MaxEventAttrs)
	}
	for k, v := range e.Attrs {
		if k == "" || len(k) > MaxAttrLen || len(v) > MaxAttrLen {
			return fmt.Errorf("%w: attribute %.32q: key 1..%d and value up to %d bytes", ErrInvalidEvent, k, MaxAttrLen, MaxAttrLen)
		}
	}
	return nil
}

// CutAttr bounds an attribute value to MaxAttrLen bytes, for inputs that
// take attributes from a device's text; a rune cut in two is dropped.
func CutAttr(s string) string {
	if len(s) <= MaxAttrLen {
		return s
	}
	return strings.ToValidUTF8(s[:MaxAttrLen], "")
}
