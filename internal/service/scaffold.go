package service

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"text/template"
)

//go:embed scaffold
var scaffold embed.FS

// InitOptions say what `molen service init` writes.
type InitOptions struct {
	ID string // the service's id; default the directory's name
	// Require is the molen module version a go.mod (written when dir is
	// not inside a Go module) requires; SDK, if set, replaces the molen
	// module with that local directory.
	Require string
	SDK     string
}

// Init writes a new service package to dir: margo.yaml, a Go module
// using sdk/molensvc, terms, licence, icon and sample points. It refuses
// to overwrite files.
func Init(dir string, o InitOptions) ([]string, error) {
	if o.ID == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		o.ID = strings.ToLower(filepath.Base(abs))
	}
	if !idRE.MatchString(o.ID) {
		return nil, fmt.Errorf("id %q: want 2-63 of a-z 0-9 -", o.ID)
	}
	files := map[string][]byte{}
	err := fs.WalkDir(scaffold, "scaffold", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := scaffold.ReadFile(p)
		name := strings.TrimSuffix(strings.TrimPrefix(p, "scaffold/"), ".tmpl")
		if strings.HasSuffix(p, ".tmpl") {
			var out bytes.Buffer
			if err := template.Must(template.New(name).Parse(string(b))).Execute(&out, o); err != nil {
				return err
			}
			b = out.Bytes()
		}
		files[name] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if !insideGoModule(dir) {
		gomod := fmt.Sprintf("module %s\n\ngo %s\n\nrequire github.com/molen-io/molen %s\n", o.ID, goVersion(), o.Require)
		if o.SDK != "" {
			gomod += fmt.Sprintf("\nreplace github.com/molen-io/molen => %s\n", o.SDK)
		}
		files["go.mod"] = []byte(gomod)
	}
	var written []string
	for name := range files {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return nil, fmt.Errorf("%s exists: init writes a new package only", filepath.Join(dir, name))
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return written, err
		}
		written = append(written, name)
	}
	return written, nil
}

// goVersion is the go directive of a new go.mod: the version of the Go
// that built molen, at least molen's own go directive.
func goVersion() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	if !regexp.MustCompile(`^1\.\d+\.\d+$`).MatchString(v) {
		return "1.26.8"
	}
	return v
}

// insideGoModule reports whether dir or a parent holds a go.mod.
func insideGoModule(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		if _, err := os.Stat(filepath.Join(abs, "go.mod")); err == nil || !errors.Is(err, os.ErrNotExist) {
			return err == nil
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return false
		}
		abs = parent
	}
}
