package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// molen release verify checks a binary by its envelope and a signed
// SHA256SUMS with the files it lists, as the release tool writes them; a
// changed file, another key or a changed checksum line is refused.
func TestReleaseVerify(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "release")
	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := Main(args, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := run("release", "keygen", name); code != 0 {
		t.Fatalf("keygen: %s", out)
	}
	if code, out := run("release", "keygen", filepath.Join(dir, "other")); code != 0 {
		t.Fatalf("keygen: %s", out)
	}
	bin := filepath.Join(dir, "molen_1.5.0_linux_arm64")
	deb := filepath.Join(dir, "molen_1.5.0_arm64.deb")
	for f, content := range map[string]string{bin: "a molen binary", deb: "a package"} {
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, out := run("release", "sign", bin, "--key", name+".key", "--version", "1.5.0", "--os", "linux", "--arch", "arm64"); code != 0 {
		t.Fatalf("sign: %s", out)
	}
	key, err := os.ReadFile(name + ".key")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := sign.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sums := filepath.Join(dir, "SHA256SUMS")
	var lines bytes.Buffer
	for _, f := range []string{deb, bin} {
		s, _ := uplink.FileSHA256(f)
		fmt.Fprintf(&lines, "%s  %s\n", s, filepath.Base(f))
	}
	fmt.Fprintf(&lines, "%s  %s\n", strings.Repeat("0", 64), "molen_1.5.0_linux_amd64") // listed, not downloaded
	if err := os.WriteFile(sums, lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	envJSON, _ := json.Marshal(uplink.SignSums(priv, lines.Bytes()))
	if err := os.WriteFile(sums+".dsse.json", envJSON, 0o644); err != nil {
		t.Fatal(err)
	}

	code, out := run("release", "verify", bin, sums, "--key", name+".pub")
	if code != 0 || !strings.Contains(out, "molen 1.5.0 linux/arm64") || !strings.Contains(out, "2 files match") || !strings.Contains(out, "not here: molen_1.5.0_linux_amd64") {
		t.Fatalf("verify: %d %s", code, out)
	}
	if code, out := run("release", "verify", bin, "--key", filepath.Join(dir, "other.pub")); code == 0 || !strings.Contains(out, "does not verify") {
		t.Errorf("verify with another key: %d %s", code, out)
	}
	if err := os.WriteFile(deb, []byte("a changed package"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := run("release", "verify", sums, "--key", name+".pub"); code == 0 || !strings.Contains(out, "molen_1.5.0_arm64.deb: sha256") {
		t.Errorf("verify SHA256SUMS with a changed package: %d %s", code, out)
	}
	if err := os.WriteFile(sums, bytes.Replace(lines.Bytes(), []byte("0000"), []byte("1111"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := run("release", "verify", sums, "--key", name+".pub"); code == 0 || !strings.Contains(out, "not the checksums") {
		t.Errorf("verify a changed SHA256SUMS: %d %s", code, out)
	}
	if err := os.WriteFile(bin, []byte("another binary"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := run("release", "verify", bin, "--key", name+".pub"); code == 0 || !strings.Contains(out, "not about this file") {
		t.Errorf("verify a changed binary: %d %s", code, out)
	}
}
