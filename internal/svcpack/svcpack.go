package svcpack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/molen-io/molen/internal/service"
	"github.com/molen-io/molen/internal/sign"
)

// MaxArchive bounds a package archive (compressed), MaxFile one file in
// it (uncompressed) and MaxFiles how many files it holds.
const (
	MaxArchive = 64 << 20
	MaxFile    = 64 << 20
	MaxFiles   = 16
)

// Ext is the extension of a package archive's file.
const Ext = ".molen"

// The predicate types of the two statements about a package.
const (
	// PackagePredicate is the provider's statement: Package.
	PackagePredicate = "https://molen.io/service-package/v1"
	// ReleasePredicate is the platform's countersignature: Release.
	ReleasePredicate = "https://molen.io/service-release/v1"
)

// Errors callers act on.
var (
	// ErrArchive: the bytes are not a package archive of this format.
	ErrArchive = errors.New("not a service package archive")
	// ErrTrust: a signature, a digest or what a statement says does not
	// hold.
	ErrTrust = errors.New("package not trusted")
)

// Package is what the provider signs about an archive: the service, its
// version and the provider organisation it is published under.
type Package struct {
	ID       string `json:"id"`
	Version  string `json:"version"`
	Provider string `json:"provider"` // the provider organisation's ID on the hub
}

// Release is what the platform signs when it releases a version: the
// package's statement, and the provider key that signed it (PEM, PKIX),
// so an edge that trusts the platform's key learns the provider's.
type Release struct {
	Package
	ProviderKey string `json:"provider_key"`
}

// fileName is what a file of an archive may be called: a flat name.
var fileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Pack makes the archive of the package in dir: a gzip-compressed tar of
// the manifest, the module, the licence, the terms and the icon, in that
// order, with no times, owners or modes that differ between machines,
// so the same package gives the same bytes (and digest) wherever it is
// packed. The package is validated first.
func Pack(dir string) ([]byte, *service.Package, error) {
	pkg, err := service.LoadPackage(dir)
	if err != nil {
		return nil, nil, err
	}
	x := pkg.Molen
	names := []string{service.ManifestFile, x.Module, pkg.Manifest.Metadata.Catalog.Application.LicenseFile, x.Terms}
	if icon := pkg.Manifest.Metadata.Catalog.Application.Icon; icon != "" {
		names = append(names, icon)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		if !fileName.MatchString(name) {
			return nil, nil, fmt.Errorf("%s: a package's files are named plainly, in its directory (a-z A-Z 0-9 . _ -)", name)
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			if name == x.Module && errors.Is(err, os.ErrNotExist) {
				return nil, nil, fmt.Errorf("%s: %w (build it first: molen service build %s)", name, err, dir)
			}
			return nil, nil, err
		}
		if len(b) > MaxFile {
			return nil, nil, fmt.Errorf("%s: larger than %d bytes", name, MaxFile)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg,
			ModTime: time.Unix(0, 0), Format: tar.FormatPAX}); err != nil {
			return nil, nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	if buf.Len() > MaxArchive {
		return nil, nil, fmt.Errorf("package: %d bytes packed, more than %d", buf.Len(), MaxArchive)
	}
	return buf.Bytes(), pkg, nil
}

// Digest is the hex sha256 of an archive: the name everything else
// uses for it.
func Digest(archive []byte) string {
	sum := sha256.Sum256(archive)
	return hex.EncodeToString(sum[:])
}

// Files reads an archive's files by name. Anything but flat regular
// files, a name twice, more than MaxFiles files or a file larger than
// MaxFile is ErrArchive.
func Files(archive []byte) (map[string][]byte, error) {
	if len(archive) > MaxArchive {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrArchive, MaxArchive)
	}
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrArchive, err)
	}
	tr := tar.NewReader(zr)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrArchive, err)
		}
		switch {
		case h.Typeflag != tar.TypeReg:
			return nil, fmt.Errorf("%w: %s: only regular files", ErrArchive, h.Name)
		case !fileName.MatchString(h.Name):
			return nil, fmt.Errorf("%w: %q: only plain names, no directories", ErrArchive, h.Name)
		case out[h.Name] != nil:
			return nil, fmt.Errorf("%w: %s: twice", ErrArchive, h.Name)
		case len(out) >= MaxFiles:
			return nil, fmt.Errorf("%w: more than %d files", ErrArchive, MaxFiles)
		case h.Size > MaxFile || h.Size < 0:
			return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrArchive, h.Name, MaxFile)
		}
		b, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrArchive, h.Name, err)
		}
		out[h.Name] = b
	}
	if out[service.ManifestFile] == nil {
		return nil, fmt.Errorf("%w: no %s", ErrArchive, service.ManifestFile)
	}
	return out, nil
}

// Read reads and validates an archive's manifest and checks that the
// files it names are there: the package's files and its manifest.
func Read(archive []byte) (map[string][]byte, *service.Package, error) {
	files, err := Files(archive)
	if err != nil {
		return nil, nil, err
	}
	pkg, err := service.ParseManifest(files[service.ManifestFile])
	if err != nil {
		return nil, nil, err
	}
	for _, name := range []string{pkg.Molen.Module, pkg.Manifest.Metadata.Catalog.Application.LicenseFile, pkg.Molen.Terms} {
		if files[name] == nil {
			return nil, nil, fmt.Errorf("%w: %s, named by the manifest, is missing", ErrArchive, name)
		}
	}
	return files, pkg, nil
}

// Unpack writes an archive's files into dir (made, mode 0700), after
// reading it whole: a bad archive writes nothing.
func Unpack(archive []byte, dir string) (*service.Package, error) {
	files, _, err := Read(archive)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	}) {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o600); err != nil {
			return nil, fmt.Errorf("unpack %s: %w", name, err)
		}
	}
	return service.LoadPackage(dir)
}

// Sign is the provider's signature of an archive: a DSSE envelope of an
// in-toto statement about it, with the package's ID and version from
// its manifest and the provider organisation it is published under.
func Sign(key ed25519.PrivateKey, archive []byte, provider string) (sign.Envelope, Package, error) {
	_, pkg, err := Read(archive)
	if err != nil {
		return sign.Envelope{}, Package{}, err
	}
	p := Package{ID: pkg.Manifest.Metadata.ID, Version: pkg.Manifest.Metadata.Version, Provider: provider}
	env, err := sign.SignStatement(key, p.ID+"-"+p.Version+Ext, Digest(archive), PackagePredicate, p)
	return env, p, err
}

// VerifyProvider checks that env is a statement about the archive whose
// digest is sha, signed by one of keys, and returns what it says.
func VerifyProvider(env sign.Envelope, keys []ed25519.PublicKey, sha string) (Package, string, error) {
	st, signer, err := sign.VerifyStatement(env, keys, sha, PackagePredicate)
	if err != nil {
		return Package{}, "", fmt.Errorf("%w: the provider's signature: %w", ErrTrust, err)
	}
	var p Package
	if err := json.Unmarshal(st.Predicate, &p); err != nil || p.ID == "" || p.Version == "" || p.Provider == "" {
		return Package{}, "", fmt.Errorf("%w: the provider's statement must say {\"id\", \"version\", \"provider\"}", ErrTrust)
	}
	return p, signer, nil
}

// Countersign is the platform's signature of a released version.
func Countersign(key ed25519.PrivateKey, sha string, p Package, providerKey ed25519.PublicKey) (sign.Envelope, error) {
	pem, err := sign.EncodePublicKey(providerKey)
	if err != nil {
		return sign.Envelope{}, err
	}
	return sign.SignStatement(key, p.ID+"-"+p.Version+Ext, sha, ReleasePredicate, Release{Package: p, ProviderKey: string(pem)})
}

// Verify is what an edge checks before it loads anything of a package:
// the archive's digest is sha; the release statement about it is signed
// by one of the platform's keys; the provider's statement is signed by
// the provider key the release names; and both say the same package.
func Verify(archive []byte, sha string, provider, release sign.Envelope, platform []ed25519.PublicKey) (Package, error) {
	if got := Digest(archive); got != sha {
		return Package{}, fmt.Errorf("%w: the archive's sha256 is %s, not %s", ErrTrust, got, sha)
	}
	st, _, err := sign.VerifyStatement(release, platform, sha, ReleasePredicate)
	if err != nil {
		return Package{}, fmt.Errorf("%w: the platform's countersignature: %w", ErrTrust, err)
	}
	var rel Release
	if err := json.Unmarshal(st.Predicate, &rel); err != nil {
		return Package{}, fmt.Errorf("%w: the release statement: %v", ErrTrust, err)
	}
	keys, err := sign.ParsePublicKeys([]byte(rel.ProviderKey))
	if err != nil {
		return Package{}, fmt.Errorf("%w: the release statement's provider key: %v", ErrTrust, err)
	}
	p, _, err := VerifyProvider(provider, keys, sha)
	if err != nil {
		return Package{}, err
	}
	if p != rel.Package {
		return Package{}, fmt.Errorf("%w: the provider signed %+v, the platform released %+v", ErrTrust, p, rel.Package)
	}
	_, pkg, err := Read(archive)
	if err != nil {
		return Package{}, err
	}
	if pkg.Manifest.Metadata.ID != p.ID || pkg.Manifest.Metadata.Version != p.Version {
		return Package{}, fmt.Errorf("%w: the manifest is %s %s, the statements say %s %s", ErrTrust,
			pkg.Manifest.Metadata.ID, pkg.Manifest.Metadata.Version, p.ID, p.Version)
	}
	return p, nil
}
