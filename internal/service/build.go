package service

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildGo compiles the Go package in dir (a main package that registers a
// molensvc.Service in init) to the WebAssembly module out, as a WASI
// reactor: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. The go
// tool's build cache makes a rebuild of unchanged sources cheap.
func BuildGo(ctx context.Context, dir, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-trimpath", "-o", abs, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared): %w\n%s", dir, err, stderr.Bytes())
	}
	return nil
}

// Build builds the package's module from its Go source (x-molen.source)
// into x-molen.module.
func Build(ctx context.Context, pkg *Package) error {
	return BuildGo(ctx, filepath.Join(pkg.Dir, pkg.Molen.Source), filepath.Join(pkg.Dir, pkg.Molen.Module))
}

// BuildInto copies the package in src (its manifest, licence, terms and
// icon) into dst and builds its module there from src's Go source, so
// that dst is a package to run or pack, and src (a checkout) stays as it
// is.
func BuildInto(ctx context.Context, src, dst string) (*Package, error) {
	pkg, err := LoadPackage(src)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return nil, err
	}
	app := pkg.Manifest.Metadata.Catalog.Application
	for _, f := range []string{ManifestFile, app.LicenseFile, pkg.Molen.Terms, app.Icon} {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o600); err != nil {
			return nil, err
		}
	}
	if err := BuildGo(ctx, filepath.Join(src, pkg.Molen.Source), filepath.Join(dst, pkg.Molen.Module)); err != nil {
		return nil, err
	}
	pkg.Dir = dst
	return pkg, nil
}
