package connectortest

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/molen-io/molen/internal/uns"
)

// ErrRefused is what a Sink returns for a write it was told to fail.
var ErrRefused = errors.New("connectortest: sink refused the write")

// Sink records what an input delivers. It can be told to refuse writes
// (FailNext) or to hold them (Block), to check what an input does when the
// edge cannot take its points. Safe for concurrent use.
type Sink struct {
	mu       sync.Mutex // guards the fields below
	accepted []uns.Point
	refused  []uns.Point
	failNext int
	blocking bool
	blocked  chan struct{} // closed when a write blocks; nil unless blocking
	release  chan struct{} // closed by Unblock
}

// NewSink returns a Sink that accepts every write.
func NewSink() *Sink { return &Sink{} }

// Write records pts, or refuses or holds them as told.
func (s *Sink) Write(ctx context.Context, pts []uns.Point) error {
	s.mu.Lock()
	if s.blocking {
		blocked, release := s.blocked, s.release
		select {
		case <-blocked:
		default:
			close(blocked)
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-release:
		}
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		s.refused = append(s.refused, pts...)
		return ErrRefused
	}
	s.accepted = append(s.accepted, pts...)
	return nil
}

// FailNext makes the next n writes fail with ErrRefused.
func (s *Sink) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// Failing reports how many of the writes FailNext asked to fail are still
// to come.
func (s *Sink) Failing() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failNext
}

// Block makes writes wait until Unblock or until their context ends. The
// returned channel is closed once a write is waiting.
func (s *Sink) Block() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocking = true
	s.blocked = make(chan struct{})
	s.release = make(chan struct{})
	return s.blocked
}

// Unblock lets waiting and later writes through.
func (s *Sink) Unblock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocking {
		s.blocking = false
		close(s.release)
	}
}

// Points returns a copy of the accepted points in delivery order.
func (s *Sink) Points() []uns.Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.accepted)
}

// Refused returns a copy of the points of refused writes.
func (s *Sink) Refused() []uns.Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refused)
}

// Len is the number of accepted points.
func (s *Sink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.accepted)
}
