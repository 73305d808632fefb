//go:build !edgeonly

package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/molen-io/molen/internal/fleet"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/margo"
	"github.com/molen-io/molen/internal/uplink"
)

// demoMargoDevice adds to the demo a device that is not a molen edge but a
// Margo client: a vision station in hall 1 that runs a quality-inspection
// application (a helm deployment in its edge layer). It speaks Margo's
// workload management API to the hub as such a device would: it onboards
// with its enrollment token and a self-signed certificate, fetches its
// desired state and the deployment by digest, and reports its
// capabilities and the deployment installed.
func demoMargoDevice(ctx context.Context, h *hub.Hub) error {
	f := h.Fleet()
	org := hub.DefaultOrg
	dev, token, err := f.CreateEdge(ctx, org, "vision-station")
	if err != nil {
		return fmt.Errorf("demo margo device: %w", err)
	}
	if err := f.SetPlace(ctx, org, dev.ID, fleet.Place{Site: "hall-1", Labels: map[string]string{"line": "vision", "kind": "margo"}}); err != nil {
		return fmt.Errorf("demo margo device: %w", err)
	}
	deployment := json.RawMessage(`{"apiVersion":"margo.org","kind":"ApplicationDeployment","metadata":{"name":"quality-inspection"},
		"spec":{"applicationId":"quality-inspection","deploymentProfile":{"type":"helm","components":[{"name":"inspector",
		"properties":{"repository":"oci://registry.noordlicht.example/charts/inspector","revision":"2.4.1","wait":true}}]}}}`)
	l := fleet.Layer{Org: org, Scope: fleet.ScopeEdge, Target: dev.ID, Deployments: map[string]json.RawMessage{"quality-inspection": deployment}}
	if err := f.PutLayer(ctx, &l); err != nil {
		return fmt.Errorf("demo margo device: %w", err)
	}
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vision-station"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return fmt.Errorf("demo margo device: %w", err)
	}
	cert := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	call := func(method, path string, body any, signer *uplink.Signer, bearer string) ([]byte, error) {
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, h.URL()+path, bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if signer != nil {
			signer.Sign(req, b, time.Now())
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return out, nil
	}
	if _, err := call("POST", "/api/v1/onboarding", map[string]string{"apiVersion": "margo.org/v1", "kind": "OnboardingRequest", "certificate": cert}, nil, token); err != nil {
		return fmt.Errorf("demo margo device: %w", err)
	}
	signer := &uplink.Signer{KeyID: dev.ID, Key: key}
	base := "/api/v1/clients/" + dev.ID
	b, err := call("GET", base+"/deployments", nil, signer, "")
	if err != nil {
		return fmt.Errorf("demo margo device: %w", err)
	}
	var state margo.StateManifest
	if err := json.Unmarshal(b, &state); err != nil {
		return fmt.Errorf("demo margo device: %w", err)
	}
	for _, d := range state.Deployments {
		if _, err := call("GET", d.URL, nil, signer, ""); err != nil {
			return fmt.Errorf("demo margo device: %w", err)
		}
		st := margo.DeploymentStatus{APIVersion: "margo.org/v1", Kind: margo.StatusKind, DeploymentID: d.DeploymentID,
			Components: []margo.ComponentStatus{{Name: "inspector", State: "installed"}}}
		st.Status.State = "installed"
		if _, err := call("POST", base+"/deployments/"+d.DeploymentID+"/status", st, signer, ""); err != nil {
			return fmt.Errorf("demo margo device: %w", err)
		}
	}
	caps := margo.Capabilities{APIVersion: "margo.org/v1", Kind: margo.CapabilitiesKind, Properties: margo.CapabilitiesProperties{
		ID: dev.ID, Vendor: "Noordlicht Systems", ModelNumber: "NV-4 vision box", SerialNumber: "NV4-2026-00317",
		Roles: []string{"Standalone Device"},
		Resources: margo.Resources{CPU: margo.CPU{Cores: 8, Architecture: "arm64"}, Memory: "16 GiB", Storage: "256 GiB",
			Peripherals: []margo.Peripheral{{Type: "gpu", Manufacturer: "Noordlicht", Model: "NPU-2"}, {Type: "camera", Model: "GigE 12 MP"}},
			Interfaces:  []margo.Interface{{Type: "ethernet"}, {Type: "usb"}}},
	}}
	if _, err := call("PUT", base+"/capabilities", caps, signer, ""); err != nil {
		return fmt.Errorf("demo margo device: %w", err)
	}
	return nil
}
