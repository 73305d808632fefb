package svcpack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/svcpack/svcpacktest"
)

// testPackage is the SPC service's package with a stand-in module
// (packing does not run the module).
func testPackage(t *testing.T) string {
	return svcpacktest.SPC(t, append(slices.Clone(svcpacktest.StandIn), " stand-in"...), nil)
}

func keys(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub, key
}

func TestPackIsDeterministicAndUnpacks(t *testing.T) {
	dir := testPackage(t)
	a, pkg, err := Pack(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Another directory, other file times: the same bytes.
	dir2 := testPackage(t)
	b, _, err := Pack(dir2)
	if err != nil {
		t.Fatal(err)
	}
	if Digest(a) != Digest(b) {
		t.Fatalf("packing the same package twice gave %s and %s", Digest(a), Digest(b))
	}
	if pkg.Manifest.Metadata.ID != "molen-spc" {
		t.Fatalf("id %q", pkg.Manifest.Metadata.ID)
	}
	out := filepath.Join(t.TempDir(), "x")
	got, err := Unpack(a, out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Manifest.Metadata.Version != pkg.Manifest.Metadata.Version {
		t.Fatalf("unpacked version %q", got.Manifest.Metadata.Version)
	}
	if w, _ := os.ReadFile(filepath.Join(out, "spc.wasm")); !bytes.HasPrefix(w, []byte("\x00asm")) {
		t.Fatalf("module not unpacked: %q", w)
	}
}

func TestPackWithoutModule(t *testing.T) {
	dir := testPackage(t)
	os.Remove(filepath.Join(dir, "spc.wasm"))
	if _, _, err := Pack(dir); err == nil {
		t.Fatal("packed a package without its module")
	}
}

// tarOf makes a gzip'd tar of entries.
func tarOf(t *testing.T, entries ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		h.Size = 1
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte("x"))
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestFilesRefusesWhatIsNotAPackage(t *testing.T) {
	for name, b := range map[string][]byte{
		"not gzip":    []byte("hello"),
		"a directory": tarOf(t, tar.Header{Name: "../margo.yaml"}),
		"a subdir":    tarOf(t, tar.Header{Name: "a/margo.yaml"}),
		"a link":      tarOf(t, tar.Header{Name: "margo.yaml", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}),
		"twice":       tarOf(t, tar.Header{Name: "margo.yaml"}, tar.Header{Name: "margo.yaml"}),
		"no manifest": tarOf(t, tar.Header{Name: "spc.wasm"}),
	} {
		if _, err := Files(b); !errors.Is(err, ErrArchive) {
			t.Errorf("%s: got %v, want ErrArchive", name, err)
		}
	}
}

// TestVerify: what an edge checks, and the attacks on it: a changed
// byte, a signature by another key than the one the platform released,
// a platform key the edge does not trust, a statement about another
// package.
func TestVerify(t *testing.T) {
	archive, _, err := Pack(testPackage(t))
	if err != nil {
		t.Fatal(err)
	}
	sha := Digest(archive)
	provPub, provKey := keys(t)
	platPub, platKey := keys(t)
	_, otherKey := keys(t)
	env, p, err := Sign(provKey, archive, "org-molen")
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "molen-spc" || p.Provider != "org-molen" {
		t.Fatalf("statement %+v", p)
	}
	rel, err := Countersign(platKey, sha, p, provPub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(archive, sha, env, rel, []ed25519.PublicKey{platPub}); err != nil {
		t.Fatalf("a good package: %v", err)
	}

	changed := bytes.Clone(archive)
	changed[len(changed)/2] ^= 1
	otherEnv, _, _ := Sign(otherKey, archive, "org-molen")
	otherProv, _, _ := Sign(provKey, archive, "org-other")
	relByOther, _ := Countersign(otherKey, sha, p, provPub)
	for name, c := range map[string]struct {
		archive       []byte
		prov, release sign.Envelope
	}{
		"a changed byte":                     {changed, env, rel},
		"signed by a key not released":       {archive, otherEnv, rel},
		"countersigned by an untrusted key":  {archive, env, relByOther},
		"provider statement names another":   {archive, otherProv, rel},
		"the release given as the signature": {archive, rel, rel},
	} {
		if _, err := Verify(c.archive, sha, c.prov, c.release, []ed25519.PublicKey{platPub}); !errors.Is(err, ErrTrust) {
			t.Errorf("%s: got %v, want ErrTrust", name, err)
		}
	}
	// The digest the part names is what is checked first: an archive
	// changed and its digest with it is still not countersigned.
	if _, err := Verify(changed, Digest(changed), env, rel, []ed25519.PublicKey{platPub}); !errors.Is(err, ErrTrust) {
		t.Errorf("a changed archive under its own digest: got %v, want ErrTrust", err)
	}
}

// BenchmarkVerify is what an edge pays at each load of a manifest with
// an installed service: a module of 3 MiB (random bytes, so gzip cannot
// shrink it: the worst case), hashed, both statements verified and the
// archive read.
func BenchmarkVerify(b *testing.B) {
	module := make([]byte, 3<<20)
	rand.Read(module)
	dir := svcpacktest.SPC(b, module, nil)
	archive, _, err := Pack(dir)
	if err != nil {
		b.Fatal(err)
	}
	provPub, provKey, _ := sign.GenerateKey()
	platPub, platKey, _ := sign.GenerateKey()
	env, p, _ := Sign(provKey, archive, "tools")
	rel, _ := Countersign(platKey, Digest(archive), p, provPub)
	b.SetBytes(int64(len(archive)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Verify(archive, Digest(archive), env, rel, []ed25519.PublicKey{platPub}); err != nil {
			b.Fatal(err)
		}
	}
}
