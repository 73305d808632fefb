// Command molen is the molen platform in one binary: edge, hub, simulator
// and demo. See `molen --help`.
package main

import (
	"os"

	"github.com/molen-io/molen/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
