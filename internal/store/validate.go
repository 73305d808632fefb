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

// ValidateIngest checks a call of Points.Ingest for what every backend
// refuses (they wrap the error in ErrInvalid), so that a caller can refuse
// a batch before it accepts it for storing later (a hub cluster's uplink).
func ValidateIngest(org string, src Source, recs []Record) error {
	if org == "" {
		return errors.New("empty organisation")
	}
	if src.Edge == "" {
		return errors.New("empty edge in source")
	}
	// PostgreSQL text holds no NUL and, in a UTF8 database, only UTF-8:
	// such a key would fail the same way on every retry.
	for _, k := range []struct{ what, v string }{{"organisation", org}, {"edge", src.Edge}, {"stream", src.Stream}} {
		if !Text(k.v) {
			return fmt.Errorf("%s %q holds a NUL byte or invalid UTF-8", k.what, k.v)
		}
	}
	paths := make(map[string]struct{})
	for i, r := range recs {
		if i > 0 && r.Seq <= recs[i-1].Seq {
			return fmt.Errorf("record %d: seq %d after %d: records must be in increasing seq order", i, r.Seq, recs[i-1].Seq)
		}
		for j, p := range r.Points {
			if _, ok := paths[p.Series]; !ok {
				if err := uns.ValidatePath(p.Series); err != nil {
					return fmt.Errorf("record seq %d point %d: %w", r.Seq, j, err)
				}
				paths[p.Series] = struct{}{}
			}
			if err := ValidatePoint(p); err != nil {
				return fmt.Errorf("record seq %d point %d (%s): %w", r.Seq, j, p.Series, err)
			}
		}
		for j, e := range r.Events {
			if err := ValidateEvent(e); err != nil {
				return fmt.Errorf("record seq %d event %d: %w", r.Seq, j, err)
			}
		}
	}
	return nil
}
