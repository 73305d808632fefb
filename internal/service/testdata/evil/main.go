// Command evil is a molen-svc/1 module for the tests: it passes its
// points on, or misbehaves as its parameter "mode" says.
package main

import (
	"encoding/json"
	"errors"

	"github.com/molen-io/molen/sdk/molensvc"
)

type evil struct {
	mode string
	sink [][]byte
}

func (e *evil) Init(params []byte) error {
	var p struct{ Mode string }
	if err := json.Unmarshal(params, &p); err != nil {
		return err
	}
	e.mode = p.Mode
	return nil
}

var spin int

func (e *evil) Process(in []molensvc.Point, out *molensvc.Output) error {
	switch e.mode {
	case "loop":
		for {
			spin++
		}
	case "alloc":
		for {
			e.sink = append(e.sink, make([]byte, 16<<20))
		}
	case "trap":
		var m map[string]int
		m["x"] = 1 // panics: a trap on every batch
	case "error":
		return errors.New("refusing this batch")
	case "flood":
		for _, p := range in {
			for range 10 {
				out.Points = append(out.Points, p)
			}
		}
		return nil
	case "outside":
		out.Point("other/site/secret", in[0].TS, molensvc.Float(1), molensvc.Good)
		return nil
	}
	out.Points = append(out.Points, in...)
	return nil
}

func (e *evil) Tick(int64, *molensvc.Output) error { return nil }

func init() { molensvc.Register(&evil{}) }

func main() {}
