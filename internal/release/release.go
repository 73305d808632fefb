// Package release makes what a molen release ships besides its binaries:
// the .deb (packaging/nfpm.yaml, built with nFPM), a CycloneDX software
// bill of materials read from a binary's own build information, and the
// SHA256SUMS file. cmd/molen-release drives it; docs/install.md says how.
package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // the deb packager
	"github.com/molen-io/molen/internal/uplink"
)

// Arch is a target of a release: Go's GOARCH (and GOARM) and the name
// nFPM and Debian know it by.
type Arch struct {
	Name   string // amd64, arm64, armv7: as in file names
	GOARCH string
	GOARM  string
	NFPM   string // nFPM's name (arm7 becomes Debian's armhf)
}

// Arches are the architectures a release is built for.
var Arches = []Arch{
	{Name: "amd64", GOARCH: "amd64", NFPM: "amd64"},
	{Name: "arm64", GOARCH: "arm64", NFPM: "arm64"},
	{Name: "armv7", GOARCH: "arm", GOARM: "7", NFPM: "arm7"},
}

// ArchByName returns the architecture called name.
func ArchByName(name string) (Arch, error) {
	for _, a := range Arches {
		if a.Name == name {
			return a, nil
		}
	}
	return Arch{}, fmt.Errorf("architecture %q: want amd64, arm64 or armv7", name)
}

// DebVersion turns a version as `git describe` gives it (v1.2.0,
// v1.2.0-5-gabc1234, abc1234, abc1234-dirty) into a Debian version: the
// leading v goes, a version that does not start with a digit becomes
// 0~<it> (before any release), and what follows the release number joins
// it with + and . (1.2.0+5.gabc1234: after 1.2.0, before 1.2.1); a hyphen
// would start a Debian revision.
func DebVersion(v string) string {
	v = strings.TrimPrefix(v, "v")
	if v == "" || v[0] < '0' || v[0] > '9' {
		v = "0~" + v
	}
	v = strings.Replace(v, "-", "+", 1)
	return strings.ReplaceAll(v, "-", ".")
}

// Deb writes the .deb of the molen binary at binary for arch to w, from
// packaging/nfpm.yaml under root. mtime stamps its files (reproducible
// packages: give the commit's time).
func Deb(w io.Writer, root, binary string, arch Arch, version string, mtime time.Time) error {
	bin, err := filepath.Abs(binary)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("deb: binary: %w", err)
	}
	cfgFile, err := os.ReadFile(filepath.Join(root, "packaging", "nfpm.yaml"))
	if err != nil {
		return fmt.Errorf("deb: %w", err)
	}
	env := map[string]string{"MOLEN_BINARY": bin, "MOLEN_ARCH": arch.NFPM, "MOLEN_VERSION": DebVersion(version)}
	cfg, err := nfpm.ParseWithEnvMapping(bytes.NewReader(cfgFile), func(k string) string { return env[k] })
	if err != nil {
		return fmt.Errorf("deb: packaging/nfpm.yaml: %w", err)
	}
	info, err := cfg.Get("deb")
	if err != nil {
		return fmt.Errorf("deb: %w", err)
	}
	info.MTime = mtime
	// The paths of the file are relative to the repository's root.
	for _, c := range info.Contents {
		if c.Source != "" && !filepath.IsAbs(c.Source) {
			c.Source = filepath.Join(root, c.Source)
		}
	}
	s := &info.Overridables.Scripts
	for _, p := range []*string{&s.PreInstall, &s.PostInstall, &s.PreRemove, &s.PostRemove} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(root, *p)
		}
	}
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return fmt.Errorf("deb: %w", err)
	}
	pkgr, err := nfpm.Get("deb")
	if err != nil {
		return err
	}
	if err := pkgr.Package(info, w); err != nil {
		return fmt.Errorf("deb: %w", err)
	}
	return nil
}

// DebName is the conventional file name of the .deb of version for arch.
func DebName(version string, arch Arch) string {
	deb := map[string]string{"arm7": "armhf"}[arch.NFPM]
	if deb == "" {
		deb = arch.NFPM
	}
	return fmt.Sprintf("molen_%s_%s.deb", DebVersion(version), deb)
}

// bom is the part of CycloneDX 1.5 JSON an SBOM of a Go binary needs.
type bom struct {
	BOMFormat    string      `json:"bomFormat"`
	SpecVersion  string      `json:"specVersion"`
	SerialNumber string      `json:"serialNumber"`
	Version      int         `json:"version"`
	Metadata     bomMetadata `json:"metadata"`
	Components   []component `json:"components"`
}

type bomMetadata struct {
	Timestamp string     `json:"timestamp"`
	Component component  `json:"component"`
	Tools     []bomTool  `json:"tools,omitempty"`
	Props     []property `json:"properties,omitempty"`
}

type bomTool struct {
	Name string `json:"name"`
}

type component struct {
	Type    string     `json:"type"`
	BOMRef  string     `json:"bom-ref"`
	Name    string     `json:"name"`
	Version string     `json:"version"`
	PURL    string     `json:"purl"`
	Hashes  []hash     `json:"hashes,omitempty"`
	Props   []property `json:"properties,omitempty"`
}

type hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SBOM writes a CycloneDX 1.5 JSON bill of materials of the Go binary
// whose build information is info and whose content hashes to sum: the
// main module and every module linked in, with their versions and the
// module checksums go.sum recorded (as properties: the h1: hash is not one
// of CycloneDX's algorithms), the Go version and the build settings. The
// serial number is derived from sum, so the same binary has the same SBOM.
func SBOM(w io.Writer, info *debug.BuildInfo, version, sum string, at time.Time) error {
	main := component{Type: "application", BOMRef: "pkg:golang/" + info.Main.Path + "@" + version, Name: info.Main.Path, Version: version,
		PURL: "pkg:golang/" + info.Main.Path + "@" + version, Hashes: []hash{{Alg: "SHA-256", Content: sum}}}
	var props []property
	props = append(props, property{"go:version", info.GoVersion})
	for _, s := range info.Settings {
		if s.Key == "-ldflags" { // holds the version stamp only, but may hold more
			continue
		}
		props = append(props, property{"go:build:" + s.Key, s.Value})
	}
	b := bom{BOMFormat: "CycloneDX", SpecVersion: "1.5", Version: 1,
		SerialNumber: "urn:uuid:" + uuidFrom(sum),
		Metadata:     bomMetadata{Timestamp: at.UTC().Format(time.RFC3339), Component: main, Tools: []bomTool{{Name: "molen-release"}}, Props: props},
		Components:   []component{}}
	for _, d := range info.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		c := component{Type: "library", BOMRef: "pkg:golang/" + m.Path + "@" + m.Version, Name: m.Path, Version: m.Version,
			PURL: "pkg:golang/" + m.Path + "@" + m.Version}
		if m.Sum != "" {
			c.Props = append(c.Props, property{"go:module:sum", m.Sum})
		}
		if d.Replace != nil {
			c.Props = append(c.Props, property{"go:module:replaces", d.Path + "@" + d.Version})
		}
		b.Components = append(b.Components, c)
	}
	sort.Slice(b.Components, func(i, j int) bool { return b.Components[i].Name < b.Components[j].Name })
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(b)
}

// uuidFrom makes a version-4-shaped UUID from a hex digest.
func uuidFrom(sum string) string {
	h := sha256.Sum256([]byte(sum))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// Checksums writes the SHA256SUMS lines of files (as sha256sum -c reads
// them: the digest, two spaces, the file's base name), sorted by name.
func Checksums(w io.Writer, files []string) error {
	sorted := append([]string(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return filepath.Base(sorted[i]) < filepath.Base(sorted[j]) })
	for _, f := range sorted {
		sum, err := uplink.FileSHA256(f)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s  %s\n", sum, filepath.Base(f)); err != nil {
			return err
		}
	}
	return nil
}
