package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// buildVersions builds molen once per version stamp (go build -ldflags
// -X …cli.version=v) into dir, in parallel; the Go build cache makes the
// second and later runs a link each.
func buildVersions(t testing.TB, dir string, versions ...string) map[string]string {
	t.Helper()
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var wg sync.WaitGroup
	errs := make([]error, len(versions))
	for i, v := range versions {
		bin := filepath.Join(dir, "molen-"+v)
		out[v] = bin
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("go", "build", "-o", bin, "-ldflags", "-X github.com/molen-io/molen/internal/cli.version="+v, "./cmd/molen")
			cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
			if b, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("build %s: %v\n%s", v, err, b)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}
