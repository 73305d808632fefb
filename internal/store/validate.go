package store

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/molen-io/molen/internal/uns"
)

// ValidatePoint checks what every backend refuses to store of a point
// (Points.Ingest wraps its error in ErrInvalid): a timestamp before 1970,
// no kind, a non-finite float, an unknown quality. The path is checked
// separately (uns.ValidatePath).
func ValidatePoint(p uns.Point) error {
	if p.TS < 0 {
		return fmt.Errorf("timestamp %d is before 1970", p.TS)
	}
	switch p.Value.Kind() {
	case uns.KindFloat:
		if f := p.Value.Float64(); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("value %v is not finite", f)
		}
	case uns.KindInt, uns.KindBool, uns.KindString:
	default:
		return errors.New("value has no kind")
	}
	if p.Quality > uns.Bad {
		return fmt.Errorf("unknown quality %d", p.Quality)
	}
	return nil
}

// ValidateEvent checks an event beyond uns.ValidateEvent: attribute keys
// and values must be valid UTF-8 without NUL bytes. Attributes are stored
// as JSON, which cannot hold invalid UTF-8 (encoding/json would replace
// it), and PostgreSQL text cannot hold NUL; every backend refuses them
// alike rather than store something else than it was given.
func ValidateEvent(e uns.Event) error {
	if err := uns.ValidateEvent(e); err != nil {
		return err
	}
	for k, v := range e.Attrs {
		if !Text(k) || !Text(v) {
			return fmt.Errorf("%w: attribute %.32q: holds a NUL byte or invalid UTF-8", uns.ErrInvalidEvent, k)
		}
	}
	return nil
}

// Text reports whether s can be stored as text: valid UTF-8 without NUL.
func Text(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
