// Command molen-release builds a release of molen: static binaries for
// linux amd64, arm64 and armv7 with the version stamped, a .deb for each
// (packaging/nfpm.yaml), a container image for each (a tarball for docker
// load or podman load), a CycloneDX SBOM for each binary and SHA256SUMS, in
// one directory. Run it from the repository's root:
//
//	go run ./cmd/molen-release --out dist
//	go run ./cmd/molen-release --out dist --arch amd64 --binary /tmp/molen   # package a binary built already
//	go run ./cmd/molen-release --out dist --key release.key                  # and sign them (molen release keygen release)
//
// docs/install.md describes what it makes and how to check it.
package main

import (
	"bytes"
	"crypto/ed25519"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/release"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/uplink"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "molen-release:", err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("out", "dist", "directory for what is made")
	version := flag.String("version", "", "version to stamp (default: git describe --tags --always --dirty)")
	arches := flag.String("arch", "amd64,arm64,armv7", "architectures, comma-separated")
	binary := flag.String("binary", "", "package this binary instead of building one (with one --arch)")
	keyFile := flag.String("key", "", "release key (PEM, molen release keygen): sign each binary (BINARY.dsse.json, what the hub's release upload and the edges verify) and SHA256SUMS (SHA256SUMS.dsse.json)")
	flag.Parse()
	if *version == "" {
		v, err := git("describe", "--tags", "--always", "--dirty")
		if err != nil {
			return fmt.Errorf("version: %w (give --version)", err)
		}
		*version = v
	}
	// The commit's time stamps the packages' files, so a release built
	// twice from one commit is the same.
	mtime := time.Unix(0, 0).UTC()
	if s, err := git("log", "-1", "--format=%ct"); err == nil {
		if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
			mtime = time.Unix(sec, 0).UTC()
		}
	}
	var key ed25519.PrivateKey
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return fmt.Errorf("--key: %w", err)
		}
		if key, err = sign.ParsePrivateKey(b); err != nil {
			return fmt.Errorf("--key %s: %w", *keyFile, err)
		}
	}
	revision, _ := git("rev-parse", "HEAD")
	names := strings.Split(*arches, ",")
	if *binary != "" && len(names) != 1 {
		return errors.New("--binary needs exactly one --arch")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var made []string
	for _, name := range names {
		arch, err := release.ArchByName(strings.TrimSpace(name))
		if err != nil {
			return err
		}
		bin := filepath.Join(*out, fmt.Sprintf("molen_%s_linux_%s", *version, arch.Name))
		if *binary != "" {
			if err := copyFile(*binary, bin); err != nil {
				return err
			}
		} else if err := build(bin, arch, *version); err != nil {
			return err
		}
		deb := filepath.Join(*out, release.DebName(*version, arch))
		if err := writeFile(deb, func(b *bytes.Buffer) error { return release.Deb(b, ".", bin, arch, *version, mtime) }); err != nil {
			return err
		}
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			return fmt.Errorf("build information of %s: %w", bin, err)
		}
		sum, err := uplink.FileSHA256(bin)
		if err != nil {
			return err
		}
		sbom := bin + ".cdx.json"
		if err := writeFile(sbom, func(b *bytes.Buffer) error { return release.SBOM(b, info, *version, sum, mtime) }); err != nil {
			return err
		}
		img, err := release.Image(bin, arch, *version, revision, mtime)
		if err != nil {
			return err
		}
		image := bin + ".image.tar"
		if err := release.WriteImage(image, img, *version); err != nil {
			return err
		}
		made = append(made, bin, deb, sbom, image)
		if key != nil {
			env, err := uplink.SignRelease(key, bin, uplink.Release{Version: *version, OS: "linux", Arch: arch.GOARCH})
			if err != nil {
				return err
			}
			if err := writeJSON(bin+".dsse.json", env); err != nil {
				return err
			}
			made = append(made, bin+".dsse.json")
		}
		fmt.Printf("linux/%s: %s, %s, %s, %s\n", arch.Name, filepath.Base(bin), filepath.Base(deb), filepath.Base(sbom), filepath.Base(image))
	}
	sums := filepath.Join(*out, "SHA256SUMS")
	if err := writeFile(sums, func(b *bytes.Buffer) error { return release.Checksums(b, made) }); err != nil {
		return err
	}
	fmt.Println("checksums:", sums, "(check with: cd", *out, "&& sha256sum -c SHA256SUMS)")
	if key != nil {
		b, err := os.ReadFile(sums)
		if err != nil {
			return err
		}
		if err := writeJSON(sums+".dsse.json", uplink.SignSums(key, b)); err != nil {
			return err
		}
		fmt.Println("signed by release key", sign.KeyID(key.Public().(ed25519.PublicKey)))
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// build makes a static, stamped, trimmed molen for arch at path.
func build(path string, arch release.Arch, version string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/molen-io/molen/internal/cli.version="+version, "-o", path, "./cmd/molen")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch.GOARCH, "GOARM="+arch.GOARM)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build linux/%s: %w", arch.Name, err)
	}
	return nil
}

func git(args ...string) (string, error) {
	b, err := exec.Command("git", args...).Output()
	return strings.TrimSpace(string(b)), err
}

func writeFile(path string, fill func(*bytes.Buffer) error) error {
	var b bytes.Buffer
	if err := fill(&b); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}
