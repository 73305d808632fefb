package httpin

import (
	"testing"

	"github.com/molen-io/molen/internal/uns"
)

// FuzzLines: a batch body either decodes into valid points or is rejected
// whole; it never panics.
func FuzzLines(f *testing.F) {
	f.Add("s/a/temp 1\n\ns/a/on true\n")
	f.Add("s/a {\"x\": 1, \"y\": {\"value\": 2, \"ts\": 1772352000000}}\r\n")
	f.Add("s/a/temp\n")
	h := &handler{in: &Input{cfg: *NewConfig()}}
	f.Fuzz(func(t *testing.T, body string) {
		pts, err := h.lines([]byte(body), 1)
		if err != nil {
			if pts != nil {
				t.Fatalf("rejected with %d points", len(pts))
			}
			return
		}
		for _, p := range pts {
			if err := uns.ValidatePath(p.Series); err != nil || p.Value.Kind() == uns.KindInvalid {
				t.Fatalf("bad point %+v (%v)", p, err)
			}
		}
	})
}
