package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/uplink"
)

// molen release keygen makes a key pair that molen release sign signs
// with; the envelope verifies with the public key file, for the binary,
// version and platform given; keygen does not overwrite a key.
func TestReleaseKeygenSign(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "release")
	var out, errOut bytes.Buffer
	if code := Main([]string{"release", "keygen", name}, &out, &errOut); code != 0 {
		t.Fatalf("keygen: %d %s", code, errOut.String())
	}
	if code := Main([]string{"release", "keygen", name}, &out, &errOut); code == 0 {
		t.Fatal("keygen overwrote the key")
	}
	if fi, err := os.Stat(name + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", fi, err)
	}
	bin := filepath.Join(dir, "molen")
	if err := os.WriteFile(bin, []byte("a molen binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code := Main([]string{"release", "sign", bin, "--key", name + ".key", "--version", "1.5.0", "--os", "linux", "--arch", "arm64"}, &out, &errOut); code != 0 {
		t.Fatalf("sign: %d %s", code, errOut.String())
	}
	b, err := os.ReadFile(bin + ".dsse.json")
	if err != nil {
		t.Fatal(err)
	}
	env, err := sign.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := readPublicKeys("--release-key", []string{name + ".pub"})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("a molen binary"))
	st, _, err := sign.VerifyStatement(env, pub, hex.EncodeToString(sum[:]), uplink.ReleasePredicate)
	if err != nil {
		t.Fatal(err)
	}
	var rel uplink.Release
	if err := json.Unmarshal(st.Predicate, &rel); err != nil || rel != (uplink.Release{Version: "1.5.0", OS: "linux", Arch: "arm64"}) {
		t.Fatalf("predicate %s: %v", st.Predicate, err)
	}
}
