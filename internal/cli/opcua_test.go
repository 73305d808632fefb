package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/connector/opcua"
)

// TestOPCUACert: `molen opcua cert` writes a PKI directory that an opcua
// input takes as pki_dir without further settings, and prints the
// thumbprint and what to do next.
func TestOPCUACert(t *testing.T) {
	for _, args := range [][]string{{"opcua", "--help"}, {"opcua", "cert", "--help"}} {
		var out bytes.Buffer
		if code := Main(args, &out, io.Discard); code != 0 || !strings.Contains(out.String(), "Usage:") {
			t.Errorf("molen %v: exit %d, output %s", args, code, out.String())
		}
	}
	dir := filepath.Join(t.TempDir(), "opcua")
	var out, errOut bytes.Buffer
	if code := Main([]string{"opcua", "cert", "--uri", "urn:plant-1:molen:edge", "--host", "edge-1,192.168.10.5", "--out", dir}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	der, err := os.ReadFile(filepath.Join(dir, opcua.CertDERFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{opcua.Thumbprint(der), "urn:plant-1:molen:edge", filepath.Join(dir, opcua.CertDERFile), "pki_dir: " + dir, filepath.Join(dir, opcua.TrustedDir)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output does not say %q:\n%s", want, out.String())
		}
	}
	cfg := opcua.NewConfig()
	cfg.Endpoint, cfg.SecurityMode, cfg.PKIDir = "opc.tcp://192.168.10.30:4840", "SignAndEncrypt", dir
	cfg.Nodes = []opcua.Node{{ID: "ns=2;s=Machine1.Temp", Path: "plant-1/hall-a/line-1/mill-2/temp"}}
	if err := cfg.Validate(); err != nil {
		t.Errorf("an input with pki_dir %s: %v", dir, err)
	}

	// Once made, the key stays unless --replace.
	errOut.Reset()
	if code := Main([]string{"opcua", "cert", "--out", dir}, io.Discard, &errOut); code == 0 || !strings.Contains(errOut.String(), "--replace") {
		t.Errorf("second run: exit %d, stderr %q; want a refusal naming --replace", code, errOut.String())
	}
	if again, _ := os.ReadFile(filepath.Join(dir, opcua.CertDERFile)); !bytes.Equal(again, der) {
		t.Error("the refused run changed the certificate")
	}
	if code := Main([]string{"opcua", "cert", "--out", dir, "--replace"}, io.Discard, io.Discard); code != 0 {
		t.Errorf("--replace: exit %d", code)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, opcua.CertDERFile)); bytes.Equal(again, der) {
		t.Error("--replace kept the old certificate")
	}
}
