package cli

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"runtime"

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
	cmd.AddCommand(keygen, signCmd)
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
