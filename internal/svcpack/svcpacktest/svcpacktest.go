// Package svcpacktest makes service packages for tests: the SPC
// service's files (services/spc) in a temporary directory, with a module
// built from its source or a stand-in.
package svcpacktest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/molen-io/molen/internal/service"
)

// StandIn is a module that is not run: packing, signing and reviewing do
// not look inside it.
var StandIn = []byte("\x00asm\x01\x00\x00\x00")

// SPCSource is the SPC service's directory in this checkout.
func SPCSource() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "services", "spc")
}

// SPC copies the SPC service's package to a new temporary directory,
// its manifest changed by edit (nil: as it is), with module as spc.wasm
// (nil: built from the source) and answers the directory.
func SPC(t testing.TB, module []byte, edit func(manifest []byte) []byte) string {
	t.Helper()
	src, dir := SPCSource(), t.TempDir()
	for _, f := range []string{service.ManifestFile, "LICENSE", "TERMS.md", "icon.svg"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == service.ManifestFile && edit != nil {
			b = edit(b)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if module == nil {
		if err := service.BuildGo(t.Context(), src, filepath.Join(dir, "spc.wasm")); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	if err := os.WriteFile(filepath.Join(dir, "spc.wasm"), module, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
