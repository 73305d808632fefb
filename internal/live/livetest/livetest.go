// Package livetest reads live streams (Server-Sent Events) in tests.
package livetest

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// Stream is a client's view of one live stream.
type Stream struct {
	t    *testing.T
	Resp *http.Response
	rd   *bufio.Reader
}

// Message is one Server-Sent Events message, or a comment.
type Message struct {
	ID, Event, Data, Comment string
}

// Open opens the stream at url with a bearer secret and header pairs
// (name, value, …), closed when t ends. On a 200 it reads the stream's
// first comment.
func Open(t *testing.T, url, secret string, header ...string) *Stream {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	s := &Stream{t: t, Resp: resp, rd: bufio.NewReader(resp.Body)}
	if resp.StatusCode == 200 {
		if m := s.Next(); m.Comment != "connected" {
			t.Fatalf("first message %+v, want the comment connected", m)
		}
	}
	return s
}

// Next reads the next message or comment.
func (s *Stream) Next() Message {
	s.t.Helper()
	var m Message
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			s.t.Fatalf("read stream: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return m
		}
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "":
			m.Comment = v
		case "id":
			m.ID = v
		case "event":
			m.Event = v
		case "data":
			m.Data = v
		default:
			s.t.Fatalf("unexpected line %q", line)
		}
	}
}

// NextEvent reads the next message, skipping comments.
func (s *Stream) NextEvent() Message {
	s.t.Helper()
	for {
		if m := s.Next(); m.Comment == "" {
			return m
		}
	}
}
