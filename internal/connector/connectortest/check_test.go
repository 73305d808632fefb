package connectortest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/uns"
)

func pt(series string, ts int64, v int64) uns.Point {
	return uns.Point{Series: series, TS: ts, Value: uns.Int(v)}
}

func TestMissing(t *testing.T) {
	a1, a2, b1 := pt("s/a", 1, 10), pt("s/a", 2, 11), pt("s/b", 1, 20)
	tests := []struct {
		name     string
		r        Redelivery
		refused  []uns.Point
		accepted []uns.Point
		want     []uns.Point
	}{
		{"retry all delivered", Retry, []uns.Point{a1, b1}, []uns.Point{b1, a1}, nil},
		{"retry refused twice, delivered once", Retry, []uns.Point{a1, a1}, []uns.Point{a1}, nil},
		{"retry one lost", Retry, []uns.Point{a1, b1}, []uns.Point{a1, a2}, []uns.Point{b1}},
		{"retry newer value is not the refused one", Retry, []uns.Point{a1}, []uns.Point{a2}, []uns.Point{a1}},
		{"retry same time other value", Retry, []uns.Point{a1}, []uns.Point{pt("s/a", 1, 99)}, []uns.Point{a1}},
		{"reread newer point makes up", Reread, []uns.Point{a1}, []uns.Point{a2}, nil},
		{"reread same point makes up", Reread, []uns.Point{a1}, []uns.Point{a1}, nil},
		{"reread older point does not", Reread, []uns.Point{a2}, []uns.Point{a1}, []uns.Point{a2}},
		{"reread series never again", Reread, []uns.Point{a1, b1}, []uns.Point{a2}, []uns.Point{b1}},
		{"nothing refused", Retry, nil, []uns.Point{a1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := missing(tt.r, tt.refused, tt.accepted)
			if !slices.Equal(got, tt.want) {
				t.Errorf("missing = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUnseen(t *testing.T) {
	want := map[string]uns.Value{"s/a": uns.Int(1), "s/b": uns.Float(1)}
	tests := []struct {
		name string
		pts  []uns.Point
		want []string
	}{
		{"all", []uns.Point{pt("s/a", 1, 1), {Series: "s/b", TS: 1, Value: uns.Float(1)}}, nil},
		{"kind differs", []uns.Point{pt("s/a", 1, 1), pt("s/b", 1, 1)}, []string{"s/b"}},
		{"none", nil, []string{"s/a", "s/b"}},
		{"other value", []uns.Point{pt("s/a", 1, 2)}, []string{"s/a", "s/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unseen(want, tt.pts); !slices.Equal(got, tt.want) {
				t.Errorf("unseen = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInsane(t *testing.T) {
	now := time.Now()
	ok := connector.Status{State: connector.Connected, Peer: "tcp://x:1", Connects: 1}
	tests := []struct {
		name  string
		edit  func(*connector.Status)
		wantN int
	}{
		{"sane", func(*connector.Status) {}, 0},
		{"sane disconnected", func(s *connector.Status) {
			s.State, s.LastError, s.LastErrorAt = connector.Disconnected, "refused", now
		}, 0},
		{"unknown state", func(s *connector.Status) { s.State = "up" }, 1},
		{"no peer", func(s *connector.Status) { s.Peer = "" }, 1},
		{"connected never connected", func(s *connector.Status) { s.Connects = 0 }, 1},
		{"disconnected without error", func(s *connector.Status) { s.State = connector.Disconnected }, 1},
		{"error without time", func(s *connector.Status) { s.LastError = "x" }, 1},
		{"time without error", func(s *connector.Status) { s.LastErrorAt = now }, 1},
		{"negative points", func(s *connector.Status) { s.Points = -1 }, 1},
		{"zero rejected count", func(s *connector.Status) { s.Rejected = map[string]int64{"bad": 0} }, 1},
		{"unnamed reason", func(s *connector.Status) { s.Rejected = map[string]int64{"": 1} }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := ok
			tt.edit(&st)
			if got := insane(st); len(got) != tt.wantN {
				t.Errorf("insane = %q, want %d complaints", got, tt.wantN)
			}
		})
	}
}

func TestSink(t *testing.T) {
	s := NewSink()
	ctx := t.Context()
	s.FailNext(1)
	if err := s.Write(ctx, []uns.Point{pt("s/a", 1, 1)}); !errors.Is(err, ErrRefused) {
		t.Fatalf("first write: %v, want ErrRefused", err)
	}
	if err := s.Write(ctx, []uns.Point{pt("s/a", 1, 1)}); err != nil {
		t.Fatalf("second write: %v", err)
	}
	if got, want := len(s.Refused()), 1; got != want {
		t.Errorf("refused %d points, want %d", got, want)
	}
	if got, want := s.Len(), 1; got != want {
		t.Errorf("accepted %d points, want %d", got, want)
	}

	blocked := s.Block()
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Write(wctx, []uns.Point{pt("s/a", 2, 2)}) }()
	<-blocked
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("blocked write after cancel: %v, want context.Canceled", err)
	}
	go func() { done <- s.Write(ctx, []uns.Point{pt("s/a", 3, 3)}) }()
	s.Unblock()
	if err := <-done; err != nil {
		t.Errorf("write after Unblock: %v", err)
	}
	if got, want := s.Len(), 2; got != want {
		t.Errorf("accepted %d points, want %d", got, want)
	}
}
