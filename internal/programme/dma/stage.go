package dma

import (
	"errors"
	"fmt"
	"time"
)

// ErrOrder: an assessment out of the order T0, T1, T2.
var ErrOrder = errors.New("assessment out of order")

// Stage is when an assessment is made: T0 before the support, T1 and T2
// after it.
type Stage string

// The stages.
const (
	T0 Stage = "T0"
	T1 Stage = "T1"
	T2 Stage = "T2"
)

// Stages are the stages in order.
var Stages = []Stage{T0, T1, T2}

// Valid reports whether s is a stage.
func (s Stage) Valid() bool { return s == T0 || s == T1 || s == T2 }

// before is the stage that must come before s ("" for T0).
func (s Stage) before() Stage {
	switch s {
	case T1:
		return T0
	case T2:
		return T1
	}
	return ""
}

// CheckOrder decides whether an assessment of stage s made at at may join
// a company's earlier ones (made, by stage): each stage once, T1 only
// after a T0 and T2 only after a T1, each later than the one before.
func CheckOrder(s Stage, at time.Time, made map[Stage]time.Time) error {
	if !s.Valid() {
		return fmt.Errorf("stage %q: want T0, T1 or T2: %w", s, ErrMalformed)
	}
	if prev, ok := made[s]; ok {
		return fmt.Errorf("%s: the company has one already (%s): %w", s, prev.UTC().Format(time.DateOnly), ErrOrder)
	}
	b := s.before()
	if b == "" {
		return nil
	}
	prev, ok := made[b]
	if !ok {
		return fmt.Errorf("%s: needs a %s first: %w", s, b, ErrOrder)
	}
	if !at.After(prev) {
		return fmt.Errorf("%s at %s: not after its %s (%s): %w", s, at.UTC().Format(time.RFC3339), b, prev.UTC().Format(time.RFC3339), ErrOrder)
	}
	return nil
}

// Intervals are when a hub's companies are due for T1 and T2: T1 the
// given months after T0, T2 the given months after T1.
type Intervals struct {
	T1Months int `json:"t1_months"`
	T2Months int `json:"t2_months"`
}

// DefaultIntervals follow the EU's EDIH guidance as the open
// implementations state it: T1 one year after T0, T2 two years after T1.
var DefaultIntervals = Intervals{T1Months: 12, T2Months: 24}

// Validate checks the months: 1 to 60 each.
func (iv Intervals) Validate() error {
	if iv.T1Months < 1 || iv.T1Months > 60 || iv.T2Months < 1 || iv.T2Months > 60 {
		return fmt.Errorf("t1_months, t2_months: must be 1..60: %w", ErrOutOfScale)
	}
	return nil
}

// Next is the stage a company with made assessments is due for next and
// when ("" and the zero time before its T0 and after its T2: no date is
// due then).
func (iv Intervals) Next(made map[Stage]time.Time) (Stage, time.Time) {
	if t, ok := made[T1]; ok {
		if _, done := made[T2]; done {
			return "", time.Time{}
		}
		return T2, t.AddDate(0, iv.T2Months, 0)
	}
	if t, ok := made[T0]; ok {
		return T1, t.AddDate(0, iv.T1Months, 0)
	}
	return "", time.Time{}
}
