//go:build !edgeonly

package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestServiceExport prints the SPC package's catalogue entries: the
// provider and licence from the package, the terms' own sha256, the
// digest given; and names what is missing.
func TestServiceExport(t *testing.T) {
	terms, err := os.ReadFile("../../services/spc/TERMS.md")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(terms)
	digest := strings.Repeat("0f", 32)
	for format, want := range map[string][]string{
		"dcat":  {`"@type": "dcat:DataService"`, `"@id": "http://spdx.org/licenses/Apache-2.0"`, `"foaf:name": "molen"`, hex.EncodeToString(sum[:]), "/api/v1/edge/services/" + digest},
		"gaiax": {`"@type": "gx:ServiceOffering"`, `"gx:hash": "` + hex.EncodeToString(sum[:]) + `"`, `"@id": "https://github.com/molen-io/molen"`},
	} {
		code, out, errOut := runMolen(t, "service", "export", "--format", format, "--hub", "https://hub.example.org", "--digest", "sha256:"+digest, "../../services/spc")
		if code != 0 {
			t.Fatalf("%s: %s", format, errOut)
		}
		if !json.Valid([]byte(out)) {
			t.Errorf("%s: not JSON:\n%s", format, out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: no %s in\n%s", format, w, out)
			}
		}
	}
	if code, _, errOut := runMolen(t, "service", "export", "../../services/spc"); code == 0 || !strings.Contains(errOut, `"hub" not set`) {
		t.Errorf("without --hub: %d %s", code, errOut)
	}
	if code, _, errOut := runMolen(t, "service", "export", "--format", "rdf", "--hub", "https://h.example", "../../services/spc"); code == 0 || !strings.Contains(errOut, "want one of dcat, gaiax") {
		t.Errorf("--format rdf: %d %s", code, errOut)
	}
}
