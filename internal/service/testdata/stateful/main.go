// Command stateful is a molen-svc/1 module for the tests: it counts the
// points it has seen in its state (so the count survives restarts) and
// emits the count, logging and reading the clock as it goes.
package main

import (
	"strconv"

	"github.com/molen-io/molen/sdk/molensvc"
)

type counter struct{}

func (counter) Init([]byte) error { return nil }

func (counter) Process(in []molensvc.Point, out *molensvc.Output) error {
	n := 0
	if v, ok := molensvc.State("seen"); ok {
		n, _ = strconv.Atoi(string(v))
	}
	n += len(in)
	molensvc.SetState("seen", []byte(strconv.Itoa(n)))
	molensvc.Metric("points", float64(len(in)))
	molensvc.Log(molensvc.Info, "batch of "+strconv.Itoa(len(in)))
	out.Point("acme/counted/seen", molensvc.Now(), molensvc.Int(int64(n)), molensvc.Good)
	return nil
}

func (counter) Tick(int64, *molensvc.Output) error { return nil }

func init() { molensvc.Register(counter{}) }

func main() {}
