package release

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/uplink"
)

func TestDebVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.0":              "1.2.0",
		"v1.2.0-5-gabc1234":   "1.2.0+5.gabc1234",
		"1.2.0-rc.1":          "1.2.0+rc.1",
		"abc1234":             "0~abc1234",
		"abc1234-dirty":       "0~abc1234+dirty",
		"v1.2.0-5-gabc-dirty": "1.2.0+5.gabc.dirty",
	} {
		if got := DebVersion(in); got != want {
			t.Errorf("DebVersion(%q) = %q, want %q", in, got, want)
		}
	}
	// Debian's own ordering: a build after a tag sorts after it and before
	// the next; an untagged one before any release.
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg not installed: the ordering is not checked")
	}
	for _, p := range [][2]string{{"v1.2.0", "v1.2.0-5-gabc"}, {"v1.2.0-5-gabc", "v1.2.1"}, {"abc1234", "v0.0.1"}} {
		if err := exec.Command("dpkg", "--compare-versions", DebVersion(p[0]), "lt", DebVersion(p[1])).Run(); err != nil {
			t.Errorf("%s (%s) does not sort before %s (%s)", p[0], DebVersion(p[0]), p[1], DebVersion(p[1]))
		}
	}
}

// TestDeb builds the .deb of a real Go binary (this test's) from the
// repository's packaging/nfpm.yaml and reads it back with dpkg-deb: its
// control fields, its files with their modes, its settings as conffiles
// and its maintainer scripts.
func TestDeb(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed: the .deb is not read back")
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	arch, _ := ArchByName("arm64")
	var b bytes.Buffer
	if err := Deb(&b, "../..", bin, arch, "v1.4.0-2-gfeed", time.Unix(1_800_000_000, 0)); err != nil {
		t.Fatal(err)
	}
	deb := filepath.Join(t.TempDir(), DebName("v1.4.0-2-gfeed", arch))
	if err := os.WriteFile(deb, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if filepath.Base(deb) != "molen_1.4.0+2.gfeed_arm64.deb" {
		t.Errorf("file name %s", filepath.Base(deb))
	}
	field := func(name string) string {
		out, err := exec.Command("dpkg-deb", "-f", deb, name).Output()
		if err != nil {
			t.Fatalf("dpkg-deb -f %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	if field("Package") != "molen" || field("Version") != "1.4.0+2.gfeed" || field("Architecture") != "arm64" || field("Depends") != "adduser" {
		t.Errorf("control: %s %s %s %s", field("Package"), field("Version"), field("Architecture"), field("Depends"))
	}
	list, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"-rwxr-xr-x root/root", "./usr/bin/molen",
		"./lib/systemd/system/molen-hub.service", "./lib/systemd/system/molen-edge.service",
		"-rw-r----- root/root", "./etc/molen/hub.yaml", "./etc/molen/edge.yaml",
		"2027-01-15", // the given time stamps the files
	} {
		if !bytes.Contains(list, []byte(want)) {
			t.Errorf("the package's files hold no %q:\n%s", want, list)
		}
	}
	dir := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-e", deb, dir).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v %s", err, out)
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "conffiles"))
	if string(conf) != "/etc/molen/edge.yaml\n/etc/molen/hub.yaml\n" {
		t.Errorf("conffiles: %q", conf)
	}
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		if out, err := exec.Command("sh", "-n", filepath.Join(dir, s)).CombinedOutput(); err != nil {
			t.Errorf("%s: %v %s", s, err, out)
		}
	}
}

// buildInfo is the build information of a stamped molen as `go version
// -m` prints it (test binaries carry no modules), with a replaced module.
const buildInfo = "go\tgo1.26.8\n" +
	"path\tgithub.com/molen-io/molen/cmd/molen\n" +
	"mod\tgithub.com/molen-io/molen\t(devel)\t\n" +
	"dep\tgithub.com/beorn7/perks\tv1.0.1\th1:VlbKKnNfV8bJzeqoa4cOKqO6bYr3WgKZxO8Z16+hsOM=\n" +
	"dep\tgithub.com/eclipse/paho.golang\tv0.23.0\th1:KHgl2wz6EJo7cMBmkuhpt7C576vP+kpPv7jjvSyR6Mk=\n" +
	"dep\tgithub.com/example/old\tv1.0.0\t\n" +
	"=>\tgithub.com/example/fork\tv1.0.1\th1:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ=\n" +
	"build\t-ldflags=\"-X github.com/molen-io/molen/internal/cli.version=v1.4.0\"\n" +
	"build\tCGO_ENABLED=0\n" +
	"build\tGOARCH=arm64\n" +
	"build\tvcs.revision=feedfeedfeedfeedfeedfeedfeedfeedfeedfeed\n"

// TestSBOM: the bill of materials of a molen binary names the modules it
// links with their versions and go.sum checksums (a replacement by what
// replaced it), the build settings but the linker flags, and the same
// binary makes the same serial number.
func TestSBOM(t *testing.T) {
	info, err := debug.ParseBuildInfo(buildInfo)
	if err != nil {
		t.Fatal(err)
	}
	write := func(sum string) (map[string]any, string) {
		var b bytes.Buffer
		if err := SBOM(&b, info, "v1.4.0", sum, time.Unix(1_800_000_000, 0)); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		return doc, b.String()
	}
	doc, raw := write("aa")
	if doc["bomFormat"] != "CycloneDX" || doc["specVersion"] != "1.5" {
		t.Errorf("header: %v %v", doc["bomFormat"], doc["specVersion"])
	}
	comps := map[string]map[string]any{}
	for _, c := range doc["components"].([]any) {
		c := c.(map[string]any)
		comps[c["name"].(string)] = c
	}
	if len(comps) != 3 {
		t.Errorf("components: %s", raw)
	}
	if c := comps["github.com/eclipse/paho.golang"]; c == nil || c["purl"] != "pkg:golang/github.com/eclipse/paho.golang@v0.23.0" ||
		!strings.Contains(toJSON(c["properties"]), "h1:KHgl2wz6EJo7cMBmkuhpt7C576vP+kpPv7jjvSyR6Mk=") {
		t.Errorf("paho in the SBOM: %v", c)
	}
	if c := comps["github.com/example/fork"]; c == nil || c["version"] != "v1.0.1" || !strings.Contains(toJSON(c["properties"]), "github.com/example/old@v1.0.0") {
		t.Errorf("a replaced module: %v", c)
	}
	main := doc["metadata"].(map[string]any)["component"].(map[string]any)
	if main["version"] != "v1.4.0" || toJSON(main["hashes"]) != `[{"alg":"SHA-256","content":"aa"}]` {
		t.Errorf("the binary: %v", main)
	}
	if !strings.Contains(raw, "vcs.revision") || !strings.Contains(raw, "GOARCH") || strings.Contains(raw, "ldflags") {
		t.Errorf("build settings: %s", raw)
	}
	if d, _ := write("aa"); d["serialNumber"] != doc["serialNumber"] {
		t.Error("the same binary, another serial number")
	}
	if d, _ := write("bb"); d["serialNumber"] == doc["serialNumber"] {
		t.Error("another binary, the same serial number")
	}
}

func TestChecksums(t *testing.T) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("sha256sum not installed")
	}
	dir := t.TempDir()
	var files []string
	for i, name := range []string{"b.deb", "a"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 1000), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	var b bytes.Buffer
	if err := Checksums(&b, files); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sha256sum", "-c", "SHA256SUMS")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "a: OK\n") {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
	if err := os.WriteFile(files[0], []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Run(); err == nil {
		t.Error("sha256sum -c accepts a changed file")
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestImage builds the container image of a real static molen binary (built
// by the test for the machine's architecture) and reads the tarball back as
// `docker load` would: its configuration, its one layer's files, and the
// binary taken out of the layer runs. Running the image itself needs a
// container engine, which this machine does not have.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds molen: not with -short")
	}
	if _, err := os.Stat(CACerts); err != nil {
		t.Skipf("no CA certificates at %s to put in the image", CACerts)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "molen")
	build := exec.Command("go", "build", "-ldflags", "-X github.com/molen-io/molen/internal/cli.version=v1.4.0", "-o", bin, "github.com/molen-io/molen/cmd/molen")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	arch, _ := ArchByName("amd64")
	img, err := Image(bin, arch, "v1.4.0", "feedfeed", time.Unix(1_800_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "molen.tar")
	if err := WriteImage(path, img, "v1.4.0"); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("molen:v1.4.0", name.WeakValidation)
	back, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || strings.Join(cf.Config.Entrypoint, " ") != "/usr/bin/molen" || cf.Config.Cmd[0] != "hub" ||
		cf.Architecture != "amd64" || cf.OS != "linux" || cf.Config.Labels["org.opencontainers.image.version"] != "v1.4.0" {
		t.Errorf("configuration: %+v", cf.Config)
	}
	layers, err := back.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	seen := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[h.Name] = h
		if h.Name == "usr/bin/molen" {
			out := filepath.Join(dir, "from-image")
			f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if v, err := exec.Command(out, "--version").Output(); err != nil || strings.TrimSpace(string(v)) != "molen v1.4.0" {
				t.Errorf("the image's binary says %q %v", v, err)
			}
		}
	}
	if h := seen["var/lib/molen/"]; h == nil || h.Uid != ImageUID {
		t.Errorf("the volume's directory: %+v", h)
	}
	for _, f := range []string{"usr/bin/molen", "etc/ssl/certs/ca-certificates.crt", "etc/passwd", "tmp/"} {
		if seen[f] == nil {
			t.Errorf("the image has no %s", f)
		}
	}
}

// TestSignatures: a release's signed SHA256SUMS verifies with its release
// key only, and not once a checksum in it changed; a binary's envelope
// is the statement the hub and the edges verify (its sha256, version and
// platform).
func TestSignatures(t *testing.T) {
	pub, key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sums := []byte("aa  molen_v1.4.0_linux_amd64\n")
	env := uplink.SignSums(key, sums)
	if got, _, err := uplink.VerifySums(env, []ed25519.PublicKey{pub}); err != nil || !bytes.Equal(got, sums) {
		t.Errorf("VerifySums: %q %v", got, err)
	}
	if _, _, err := uplink.VerifySums(env, []ed25519.PublicKey{other}); err == nil {
		t.Error("another key verifies the checksums")
	}
	changed := env
	changed.Payload = []byte("bb  molen_v1.4.0_linux_amd64\n")
	if _, _, err := uplink.VerifySums(changed, []ed25519.PublicKey{pub}); err == nil {
		t.Error("changed checksums verify")
	}
	bin := filepath.Join(t.TempDir(), "molen")
	if err := os.WriteFile(bin, []byte("a molen binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	rel, err := uplink.SignRelease(key, bin, uplink.Release{Version: "v1.4.0", OS: "linux", Arch: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := uplink.FileSHA256(bin)
	st, _, err := sign.VerifyStatement(rel, []ed25519.PublicKey{pub}, sum, uplink.ReleasePredicate)
	if err != nil || !strings.Contains(string(st.Predicate), `"arm64"`) {
		t.Errorf("release statement: %+v %v", st, err)
	}
	if _, _, err := uplink.VerifySums(rel, []ed25519.PublicKey{pub}); err == nil {
		t.Error("a binary's envelope passes as signed checksums")
	}
}
