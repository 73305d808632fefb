//go:build !edgeonly

package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/service"
	"github.com/molen-io/molen/internal/service/eucat"
)

// serviceCatalogue is the service commands an edge-only build leaves out.
func serviceCatalogue(g *globals) []*cobra.Command {
	return []*cobra.Command{newServiceExport(g)}
}

func newServiceExport(g *globals) *cobra.Command {
	var format, hub, digest, providerName, providerURL string
	c := &cobra.Command{
		Use:   "export --format dcat|gaiax --hub URL DIR",
		Short: "Print a package's EU catalogue entry: DCAT-AP DataService or Gaia-X ServiceOffering (JSON-LD)",
		Long: `Print the catalogue description of the service package in DIR as JSON-LD: a DCAT-AP 3
dcat:DataService (--format dcat) or a Gaia-X Trust Framework 22.10 gx:ServiceOffering
(--format gaiax), with the provider, the terms of use and their sha256, an ODRL usage
policy, and the package named by its sha256 digest on the hub at --hub. The hub
serves the same at /api/v1/market/services/{id}/versions/{version}/catalogue.

--digest is the sha256 of the package archive as published; without it the digest
is computed over the package directory's files (each file's name, a zero byte and
its content, in name order), which names the same content but not the archive.
The provider is the manifest's first organisation unless --provider-name and
--provider-url say otherwise. See docs/services.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			pkg, err := service.LoadPackage(args[0])
			if err != nil {
				return err
			}
			o := eucat.Offering{Package: pkg, HubURL: hub, ProviderName: providerName, ProviderURL: providerURL, PackageDigest: digest}
			if err := eucat.Complete(&o, func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(pkg.Dir, name)) }); err != nil {
				return err
			}
			if o.PackageDigest == "" {
				if o.PackageDigest, err = dirDigest(pkg.Dir); err != nil {
					return err
				}
			}
			o.PackageDigest = strings.TrimPrefix(o.PackageDigest, "sha256:")
			doc, err := eucat.Export(o, format)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "%s\n", doc)
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&format, "format", "dcat", "dcat (DCAT-AP 3 DataService) or gaiax (Gaia-X ServiceOffering)")
	f.StringVar(&hub, "hub", "", "the hub's base URL, e.g. https://hub.example.org (required)")
	f.StringVar(&digest, "digest", "", "sha256 of the published package archive (hex); default: of the directory's files")
	f.StringVar(&providerName, "provider-name", "", "the provider organisation's name (default: the manifest's)")
	f.StringVar(&providerURL, "provider-url", "", "the provider organisation's URL (default: the manifest's)")
	c.MarkFlagRequired("hub")
	return c
}

// dirDigest is the sha256 of the regular files directly in dir: each
// file's name, a zero byte and its content, in name order.
func dirDigest(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return "", err
		}
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
