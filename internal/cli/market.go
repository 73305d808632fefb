package cli

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/svcpack"
)

// hubFlags are how a command reaches a hub's API: its URL and an API
// token (or $MOLEN_TOKEN).
type hubFlags struct {
	url, token string
}

func (h *hubFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&h.url, "hub", "", "the hub's URL, e.g. https://hub.example.org")
	c.Flags().StringVar(&h.token, "token", "", "an API token of your provider organisation with the write or market:write scope (default $MOLEN_TOKEN)")
}

// call sends a request to the hub and decodes its JSON answer into out;
// a status other than 2xx is an error with the hub's message.
func (h *hubFlags) call(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	if h.url == "" {
		return fmt.Errorf("--hub: the hub's URL is needed")
	}
	token := h.token
	if token == "" {
		token = os.Getenv("MOLEN_TOKEN")
	}
	if token == "" {
		return fmt.Errorf("--token (or $MOLEN_TOKEN): an API token of your organisation is needed")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(h.url, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %s (%d)", method, path, e.Error, resp.StatusCode)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func newServiceKeygen(g *globals) *cobra.Command {
	var h hubFlags
	var name string
	c := &cobra.Command{
		Use:   "keygen NAME",
		Short: "Make a provider's signing key pair: NAME.key (private) and NAME.pub; --hub registers it to your organisation",
		Long: `Make an Ed25519 key pair to sign service packages with: NAME.key, the private
key (PEM, PKCS #8, mode 0600: whoever holds it can publish in your
organisation's name, so keep it with your release process) and NAME.pub, the
public key. With --hub the public key is registered to your provider
organisation (POST /api/v1/market/keys), so the hub accepts packages signed
with it. Existing files are not overwritten.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := writeKeyPair(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "signing key %s\nprivate: %s.key\npublic:  %s.pub\n", sign.KeyID(pub), args[0], args[0])
			if h.url == "" {
				return nil
			}
			pem, _ := sign.EncodePublicKey(pub)
			body, _ := json.Marshal(map[string]string{"name": cmp.Or(name, filepath.Base(args[0])), "public_key": string(pem)})
			var k struct {
				ID  string `json:"id"`
				Org string `json:"org"`
			}
			if err := h.call(cmd.Context(), "POST", "/api/v1/market/keys", "application/json", bytes.NewReader(body), &k); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "registered to %s\n", k.Org)
			return nil
		},
	}
	h.add(c)
	c.Flags().StringVar(&name, "name", "", "the key's name on the hub (default NAME)")
	return c
}

func newServiceSign(g *globals) *cobra.Command {
	var keyFile, provider, outDir string
	c := &cobra.Command{
		Use:   "sign DIR --key NAME.key --provider ORG",
		Short: "Pack a built service package and sign it: writes ID-VERSION.molen and its signature ID-VERSION.molen.dsse.json",
		Long: `Pack the service package in DIR (its manifest, module, licence, terms and icon;
build the module first) into one archive, ID-VERSION.molen, the same bytes
wherever it is packed, and sign it with your key: ID-VERSION.molen.dsse.json
is a DSSE envelope of an in-toto statement about the archive's sha256, naming
the service, its version and ORG, your provider organisation's ID on the hub.
Publish both with 'molen service publish'.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := readPrivateKey(keyFile)
			if err != nil {
				return err
			}
			archive, _, err := svcpack.Pack(args[0])
			if err != nil {
				return err
			}
			env, p, err := svcpack.Sign(key, archive, provider)
			if err != nil {
				return err
			}
			file := filepath.Join(outDir, p.ID+"-"+p.Version+svcpack.Ext)
			if err := os.WriteFile(file, archive, 0o644); err != nil {
				return err
			}
			b, _ := json.MarshalIndent(env, "", "  ")
			if err := os.WriteFile(file+".dsse.json", append(b, '\n'), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "signed %s %s for %s by %s: %s (sha256 %s, %d bytes)\n", p.ID, p.Version, provider,
				sign.KeyID(key.Public().(ed25519.PublicKey)), file, svcpack.Digest(archive), len(archive))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&keyFile, "key", "", "your signing key's private key (PEM; molen service keygen)")
	f.StringVar(&provider, "provider", "", "your provider organisation's ID on the hub (required)")
	f.StringVarP(&outDir, "output", "o", ".", "the directory to write the archive and its signature to")
	_ = c.MarkFlagRequired("key")
	_ = c.MarkFlagRequired("provider")
	return c
}

func newServicePublish(g *globals) *cobra.Command {
	var h hubFlags
	var submit bool
	c := &cobra.Command{
		Use:   "publish ARCHIVE.molen --hub URL",
		Short: "Upload a signed service package to the hub's marketplace as a draft (--submit: and submit it for review)",
		Long: `Upload ARCHIVE.molen and its signature (ARCHIVE.molen.dsse.json, molen service
sign) to the hub's marketplace, with an API token of your provider
organisation. The hub checks the package, and that a key registered to your
organisation signed it in your organisation's name; the version becomes a
draft, which only your organisation sees. --submit submits it for the
platform's review; once released, companies can install it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			archive, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			sig, err := os.ReadFile(args[0] + ".dsse.json")
			if err != nil {
				return fmt.Errorf("the signature: %w (molen service sign writes it)", err)
			}
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			sw, _ := mw.CreateFormFile("signature", filepath.Base(args[0])+".dsse.json")
			sw.Write(sig)
			pw, _ := mw.CreateFormFile("package", filepath.Base(args[0]))
			pw.Write(archive)
			mw.Close()
			var v struct {
				ID      string `json:"id"`
				Version string `json:"version"`
				State   string `json:"state"`
				SHA256  string `json:"sha256"`
			}
			if err := h.call(cmd.Context(), "POST", "/api/v1/market/packages", mw.FormDataContentType(), &body, &v); err != nil {
				return err
			}
			if submit {
				if err := h.call(cmd.Context(), "POST", "/api/v1/market/services/"+v.ID+"/versions/"+v.Version+"/submit", "application/json", strings.NewReader("{}"), &v); err != nil {
					return err
				}
			}
			fmt.Fprintf(g.stdout, "published %s %s (sha256 %s): %s\n", v.ID, v.Version, v.SHA256, v.State)
			return nil
		},
	}
	h.add(c)
	c.Flags().BoolVar(&submit, "submit", false, "submit the version for the platform's review")
	return c
}
