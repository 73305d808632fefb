package cli

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/uplink"
)

// newRelease makes release keys and signs release binaries
// (docs/fleet.md#software-update).
func newRelease(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "release", Short: "Make release keys and sign molen binaries for software updates of edges"}
	keygen := &cobra.Command{
		Use:   "keygen NAME",
		Short: "Make a release key pair: NAME.key (private, keep it offline) and NAME.pub (give it to hubs and edges)",
		Long: `Make an Ed25519 release key pair: NAME.key, the private key (PEM, PKCS #8,
mode 0600; whoever holds it can ship software to every edge that trusts the
public key: keep it offline, with the platform's administrators) and NAME.pub,
the public key (PEM), which hubs (molen hub --release-key) and edges
(molen edge --release-key) trust. Existing files are not overwritten.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := writeKeyPair(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "release key %s\nprivate: %s.key (keep it offline)\npublic:  %s.pub\n", sign.KeyID(pub), args[0], args[0])
			return nil
		},
	}
	var keyFile, version, goos, goarch, out string
	signCmd := &cobra.Command{
		Use:   "sign BINARY --key NAME.key --version VERSION",
		Short: "Sign a molen binary: writes its DSSE envelope (BINARY.dsse.json) to upload with it",
		Long: `Sign a molen binary for software updates: writes a DSSE envelope holding an
in-toto statement about the binary (its sha256, version, OS and architecture),
signed with the release key. Upload both to the hub:

  curl -H "Authorization: Bearer $TOKEN" -F envelope=@molen.dsse.json -F binary=@molen \
    $HUB/api/v1/fleet/releases`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := readPrivateKey(keyFile)
			if err != nil {
				return err
			}
			env, err := uplink.SignRelease(key, args[0], uplink.Release{Version: version, OS: goos, Arch: goarch})
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(env, "", "  ")
			if err != nil {
				return err
			}
			if out == "" {
				out = args[0] + ".dsse.json"
			}
			if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "signed molen %s %s/%s by %s: %s\n", version, goos, goarch, sign.KeyID(key.Public().(ed25519.PublicKey)), out)
			return nil
		},
	}
	f := signCmd.Flags()
	f.StringVar(&keyFile, "key", "", "the release key's private key (PEM; molen release keygen)")
	f.StringVar(&version, "version", "", "the binary's version, as molen --version prints it (required)")
	f.StringVar(&goos, "os", runtime.GOOS, "the OS the binary is built for")
	f.StringVar(&goarch, "arch", runtime.GOARCH, "the architecture the binary is built for")
	f.StringVarP(&out, "output", "o", "", "the envelope's file (default BINARY.dsse.json)")
	_ = signCmd.MarkFlagRequired("key")
	_ = signCmd.MarkFlagRequired("version")
	var pubFiles []string
	var envFile string
	verify := &cobra.Command{
		Use:   "verify FILE... --key NAME.pub",
		Short: "Verify release files against a release key: a binary by its DSSE envelope, or a signed SHA256SUMS and the files it lists",
		Long: `Verify release files with the release key's public key, as hubs and edges do:

  a molen binary: its envelope (FILE.dsse.json, or --envelope) must be signed by
  the key and be a release statement about exactly this file (its sha256); the
  version, OS and architecture it names are printed;

  SHA256SUMS: its envelope (SHA256SUMS.dsse.json) must be signed by the key and
  hold exactly this file; then every file it lists that is next to it must have
  its checksum (files not there are named and skipped).

Any failure ends the command with an error naming the file.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := readPublicKeys("--key", pubFiles)
			if err != nil {
				return err
			}
			if envFile != "" && len(args) > 1 {
				return fmt.Errorf("--envelope: give one file with it")
			}
			for _, file := range args {
				ef := envFile
				if ef == "" {
					ef = file + ".dsse.json"
				}
				if err := verifyRelease(g.stdout, file, ef, keys); err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
			}
			return nil
		},
	}
	vf := verify.Flags()
	vf.StringSliceVar(&pubFiles, "key", nil, "the release key's public key (PEM; molen release keygen; repeatable)")
	vf.StringVar(&envFile, "envelope", "", "the envelope of FILE (default FILE.dsse.json)")
	_ = verify.MarkFlagRequired("key")
	cmd.AddCommand(keygen, signCmd, verify)
	return cmd
}

// writeKeyPair makes an Ed25519 key pair: name.key (private, PEM, mode
// 0600) and name.pub (public, PEM). Existing files are not overwritten.
func writeKeyPair(name string) (ed25519.PublicKey, error) {
	pub, key, err := sign.GenerateKey()
	if err != nil {
		return nil, err
	}
	kb, err := sign.EncodePrivateKey(key)
	if err != nil {
		return nil, err
	}
	pb, err := sign.EncodePublicKey(pub)
	if err != nil {
		return nil, err
	}
	if err := writeNew(name+".key", kb, 0o600); err != nil {
		return nil, err
	}
	if err := writeNew(name+".pub", pb, 0o644); err != nil {
		return nil, err
	}
	return pub, nil
}

// readPrivateKey reads the private key of --key (PEM, PKCS #8).
func readPrivateKey(file string) (ed25519.PrivateKey, error) {
	kb, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	key, err := sign.ParsePrivateKey(kb)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", file, err)
	}
	return key, nil
}

// verifyRelease checks file by its DSSE envelope in envFile against keys:
// a signed SHA256SUMS (and the files it lists that are next to it) or a
// release binary.
func verifyRelease(w io.Writer, file, envFile string, keys []ed25519.PublicKey) error {
	eb, err := os.ReadFile(envFile)
	if err != nil {
		return fmt.Errorf("envelope: %w", err)
	}
	env, err := sign.Parse(eb)
	if err != nil {
		return fmt.Errorf("envelope %s: %w", envFile, err)
	}
	if env.PayloadType == uplink.SumsPayloadType {
		sums, signer, err := uplink.VerifySums(env, keys)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if !bytes.Equal(b, sums) {
			return fmt.Errorf("the file is not the checksums %s signed", envFile)
		}
		var checked int
		var missing []string
		for i, line := range strings.Split(strings.TrimRight(string(sums), "\n"), "\n") {
			sum, name, ok := strings.Cut(line, "  ")
			if !ok || name == "" || strings.ContainsAny(name, `/\`) {
				return fmt.Errorf("line %d: not \"<sha256>  <file>\"", i+1)
			}
			got, err := uplink.FileSHA256(filepath.Join(filepath.Dir(file), name))
			switch {
			case errors.Is(err, fs.ErrNotExist):
				missing = append(missing, name)
				continue
			case err != nil:
				return err
			case got != sum:
				return fmt.Errorf("%s: sha256 %s, the signed checksums say %s", name, got, sum)
			}
			checked++
		}
		fmt.Fprintf(w, "%s: signed by %s; %d files match their checksums", file, signer, checked)
		if len(missing) > 0 {
			fmt.Fprintf(w, "; not here: %s", strings.Join(missing, ", "))
		}
		fmt.Fprintln(w)
		return nil
	}
	sum, err := uplink.FileSHA256(file)
	if err != nil {
		return err
	}
	st, signer, err := sign.VerifyStatement(env, keys, sum, uplink.ReleasePredicate)
	if err != nil {
		return err
	}
	var rel uplink.Release
	if err := json.Unmarshal(st.Predicate, &rel); err != nil {
		return fmt.Errorf("envelope %s: the release statement does not read: %w", envFile, err)
	}
	fmt.Fprintf(w, "%s: molen %s %s/%s, sha256 %s, signed by %s\n", file, rel.Version, rel.OS, rel.Arch, sum, signer)
	return nil
}

// writeNew writes a file that must not exist yet.
func writeNew(name string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readPublicKeys reads the public keys of PEM files given to flag.
func readPublicKeys(flag string, files []string) ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		keys, err := sign.ParsePublicKeys(b)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", flag, file, err)
		}
		out = append(out, keys...)
	}
	return out, nil
}
