package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/margo"
	"github.com/molen-io/molen/internal/uplink"
)

// specFile is Margo's published OpenAPI document (its source in
// internal/margo/testdata/README.md).
const specFile = "../margo/testdata/workload-management-api-1.0.0.yaml"

// margoSpec loads Margo's OpenAPI document, served at base. The document
// lists "bundle.mediaType", "bundle.digest" and "bundle.url" among the
// required properties of UnsignedAppStateManifest: names with a dot that
// no JSON object has (they mean bundle's own properties, which bundle may
// not have: it is null without deployments). They are taken out; the rest
// of the document is validated as published.
func margoSpec(t *testing.T, base string) (*openapi3.T, routers.Router) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("Margo's OpenAPI document: %v", err)
	}
	m := doc.Components.Schemas["UnsignedAppStateManifest"].Value
	m.Required = slices.DeleteFunc(m.Required, func(s string) bool { return strings.Contains(s, ".") })
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	// The document describes the deployment's YAML and the bundle as
	// strings (the raw bytes): check them as such, not parsed.
	openapi3filter.RegisterBodyDecoder("application/yaml", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder(margo.BundleType, openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder(margo.ManifestType, openapi3filter.JSONBodyDecoder)
	return doc, router
}

// margoClient is a Margo device: it signs its requests with its key and
// checks every request it sends and every answer it gets against Margo's
// OpenAPI document.
type margoClient struct {
	t      *testing.T
	base   string
	router routers.Router
	signer *uplink.Signer // nil: unsigned (onboarding)
	bearer string
}

// call sends a request and returns the answer's status, headers and body.
// An answer whose status the document describes is validated against it.
func (c margoClient) call(method, path, body string, header http.Header) (int, http.Header, []byte) {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(c.t.Context(), method, c.base+path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.signer != nil {
		c.signer.Sign(req, []byte(body), time.Now())
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Fatalf("%s %s is not in Margo's API: %v", method, path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(c.t.Context(), in); err != nil {
		c.t.Fatalf("%s %s: the request does not follow Margo's API: %v", method, path, err)
	}
	req.Body = io.NopCloser(strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if route.Operation.Responses.Status(resp.StatusCode) != nil {
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Body: io.NopCloser(bytes.NewReader(b)), Options: opts}
		if err := openapi3filter.ValidateResponse(c.t.Context(), out); err != nil {
			c.t.Errorf("%s %s: the answer %d does not follow Margo's API: %v in %.300s", method, path, resp.StatusCode, err, b)
		}
	}
	return resp.StatusCode, resp.Header, b
}

// selfSigned is a device certificate for key, signed with itself.
func selfSigned(t *testing.T, key ed25519.PrivateKey) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "margo device"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// TestMargoClient runs a real hub and a Margo device that speaks Margo's
// workload management API to it: onboarding with an enrollment token and
// a self-signed certificate, the desired state (a helm deployment from the
// device's layer) with its ETag, each deployment and the bundle by
// digest, deployment status and capabilities. Every request and answer is
// validated against Margo's published OpenAPI document with kin-openapi.
func TestMargoClient(t *testing.T) {
	h, c := startHub(t, hub.Config{DataDir: t.TempDir()})
	edgeID, token := newEdge(t, h, "margo-device")
	otherID, otherToken := newEdge(t, h, "another-device")
	_, router := margoSpec(t, h.URL())

	// Onboarding: a wrong token is rejected (403), a certificate that is
	// not one is invalid (400); the right token and a self-signed Ed25519
	// certificate make the device the edge the token was made for.
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	onboard := `{"apiVersion":"margo.org/v1","kind":"OnboardingRequest","certificate":"` + selfSigned(t, key) + `"}`
	dev := margoClient{t: t, base: h.URL(), router: router, bearer: "mle_not-a-token"}
	if code, _, b := dev.call("POST", "/api/v1/onboarding", onboard, nil); code != 403 {
		t.Fatalf("onboarding with a wrong token: %d %s", code, b)
	}
	dev.bearer = token
	if code, _, b := dev.call("POST", "/api/v1/onboarding", `{"apiVersion":"margo.org/v1","kind":"OnboardingRequest","certificate":"bm90IGEgY2VydA=="}`, nil); code != 400 {
		t.Fatalf("onboarding with no certificate: %d %s", code, b)
	}
	code, _, b := dev.call("POST", "/api/v1/onboarding", onboard, nil)
	var onboarded struct {
		ClientID string `json:"clientId"`
	}
	if json.Unmarshal(b, &onboarded); code != 201 || onboarded.ClientID != edgeID {
		t.Fatalf("onboarding: %d %s, want 201 and client %s", code, b, edgeID)
	}
	dev = margoClient{t: t, base: h.URL(), router: router, signer: &uplink.Signer{KeyID: edgeID, Key: key}}

	// No deployments yet: bundle is null.
	code, hdr, b := dev.call("GET", "/api/v1/clients/"+edgeID+"/deployments", "", http.Header{"Accept": {margo.ManifestType}})
	var state margo.StateManifest
	if err := json.Unmarshal(b, &state); code != 200 || err != nil || state.Bundle != nil || len(state.Deployments) != 0 || !strings.Contains(string(b), `"bundle":null`) {
		t.Fatalf("empty desired state: %d %s", code, b)
	}
	if hdr.Get("Content-Type") != margo.ManifestType || hdr.Get("ETag") == "" {
		t.Errorf("desired state headers: %v", hdr)
	}
	if code, _, _ := dev.call("GET", "/api/v1/clients/"+edgeID+"/deployments", "", http.Header{"Accept": {"application/xml"}}); code != 406 {
		t.Errorf("an Accept the hub cannot serve: %d, want 406", code)
	}

	// A deployment in the device's layer; an invalid one is refused.
	var refusal struct{ Error string }
	c.do("PUT", "/api/v1/fleet/layers/edge/"+edgeID, `{"deployments":{"dashboard":{"apiVersion":"margo.org","kind":"ApplicationDeployment",
		"metadata":{"name":"dashboard"},"spec":{"applicationId":"Dashboard_1","deploymentProfile":{"type":"helm","components":[]}}}}}`, 400, &refusal)
	if !strings.Contains(refusal.Error, "deployments.dashboard") || !strings.Contains(refusal.Error, "applicationId") {
		t.Errorf("invalid deployment refused with %q", refusal.Error)
	}
	c.do("PUT", "/api/v1/fleet/layers/edge/"+edgeID, `{"deployments":{"dashboard":{"apiVersion":"margo.org","kind":"ApplicationDeployment",
		"metadata":{"name":"dashboard"},"spec":{"applicationId":"line-dashboard","deploymentProfile":{"type":"helm",
		"components":[{"name":"web","properties":{"repository":"oci://registry.example/dashboard","revision":"1.2.0"}}]}}}}}`, 200, nil)
	// molen's parts in the organisation's layer are not for a Margo client.
	c.do("PUT", "/api/v1/fleet/layers/org", `{"pipelines":{"temps":{"match":["a/+/b/+/t"],"stages":[{"deadband":{"absolute":1}}]}}}`, 200, nil)
	var desired struct {
		Desired struct {
			Manifest uplink.Manifest `json:"manifest"`
			Explain  []struct{ Part, Skipped string }
		} `json:"desired"`
	}
	c.do("GET", "/api/v1/fleet/edges/"+edgeID, "", 200, &desired)
	if m := desired.Desired.Manifest; len(m.Parts) != 1 || m.Parts[0].Name != "deployment/dashboard" {
		t.Errorf("a Margo client's manifest: %+v", m.Parts)
	}
	if ex := desired.Desired.Explain; len(ex) != 2 || ex[1].Part != "pipeline/temps" || ex[1].Skipped != "margo-client" {
		t.Errorf("explain: %+v", ex)
	}
	code, hdr, b = dev.call("GET", "/api/v1/clients/"+edgeID+"/deployments", "", http.Header{"If-None-Match": {hdr.Get("ETag")}})
	if err := json.Unmarshal(b, &state); code != 200 || err != nil || state.Bundle == nil || len(state.Deployments) != 1 || state.ManifestVersion < 2 {
		t.Fatalf("desired state with a deployment: %d %s", code, b)
	}
	etag := hdr.Get("ETag")
	if code, _, _ := dev.call("GET", "/api/v1/clients/"+edgeID+"/deployments", "", http.Header{"If-None-Match": {etag}}); code != 304 {
		t.Errorf("unchanged desired state with its ETag: %d, want 304", code)
	}
	d := state.Deployments[0]
	code, hdr, y := dev.call("GET", d.URL, "", nil)
	if code != 200 || sha(y) != d.Digest || d.DeploymentID != "dashboard" || !strings.Contains(string(y), "repository: oci://registry.example/dashboard") {
		t.Fatalf("deployment %s: %d %s", d.URL, code, y)
	}
	if hdr.Get("Content-Type") != "application/yaml" {
		t.Errorf("deployment content type %q", hdr.Get("Content-Type"))
	}
	if code, _, _ := dev.call("GET", "/api/v1/clients/"+edgeID+"/deployments/dashboard/sha256:00", "", nil); code != 404 {
		t.Errorf("a deployment by a digest the hub does not have: %d, want 404", code)
	}
	code, _, bundle := dev.call("GET", state.Bundle.URL, "", nil)
	if code != 200 || sha(bundle) != state.Bundle.Digest {
		t.Fatalf("bundle: %d, digest %s, want %s", code, sha(bundle), state.Bundle.Digest)
	}
	zr, err := gzip.NewReader(bytes.NewReader(bundle))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	f, err := tr.Next()
	if err != nil || f.Name != "dashboard.yaml" {
		t.Fatalf("bundle's first file: %v %v", f, err)
	}
	if inTar, _ := io.ReadAll(tr); !bytes.Equal(inTar, y) {
		t.Errorf("bundle's dashboard.yaml is not the deployment's YAML")
	}

	// Status and capabilities: a state Margo does not know is a semantic
	// error (422); the others are kept and shown on the edge's page.
	status := `{"apiVersion":"margo.org/v1","kind":"DeploymentStatusManifest","deploymentId":"dashboard",
		"status":{"state":"installing"},"components":[{"name":"web","state":"installing"}]}`
	if code, _, b := dev.call("POST", "/api/v1/clients/"+edgeID+"/deployments/dashboard/status", status, nil); code != 200 {
		t.Fatalf("status: %d %s", code, b)
	}
	if code, _, _ := dev.call("POST", "/api/v1/clients/"+edgeID+"/deployments/dashboard/status",
		strings.Replace(status, `"deploymentId":"dashboard"`, `"deploymentId":"other"`, 1), nil); code != 422 {
		t.Errorf("status of another deployment than the path's: %d, want 422", code)
	}
	if n := c.metric(`molen_hub_margo_refused_total{status="422"}`); n != 1 {
		t.Errorf("refused status documents counted %v, want 1", n)
	}
	caps := `{"apiVersion":"margo.org/v1","kind":"DeviceCapabilitiesManifest","properties":{"id":"` + edgeID + `","vendor":"Acme",
		"modelNumber":"IPC-7","serialNumber":"SN-1","roles":["Standalone Device"],"resources":{"cpu":{"cores":4,"architecture":"arm64"},
		"memory":"8 GiB","storage":"64 GiB","peripherals":[],"interfaces":[{"type":"ethernet"}]}}}`
	if code, _, b := dev.call("PUT", "/api/v1/clients/"+edgeID+"/capabilities", caps, nil); code != 201 {
		t.Fatalf("capabilities: %d %s", code, b)
	}
	var detail struct {
		Margo fleetMargo `json:"margo"`
	}
	c.do("GET", "/api/v1/fleet/edges/"+edgeID, "", 200, &detail)
	if detail.Margo.Capabilities == nil || detail.Margo.Capabilities.Properties.ModelNumber != "IPC-7" ||
		len(detail.Margo.Deployments) != 1 || detail.Margo.Deployments[0].Status.State != "installing" {
		t.Errorf("the edge's page: %+v", detail.Margo)
	}

	// Another device's client ID is not found, for each route; its own
	// key does not make it this device.
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	other := margoClient{t: t, base: h.URL(), router: router, bearer: otherToken}
	if code, _, b := other.call("POST", "/api/v1/onboarding", `{"apiVersion":"margo.org/v1","kind":"OnboardingRequest","certificate":"`+selfSigned(t, otherKey)+`"}`, nil); code != 201 {
		t.Fatalf("second onboarding: %d %s", code, b)
	}
	other = margoClient{t: t, base: h.URL(), router: router, signer: &uplink.Signer{KeyID: otherID, Key: otherKey}}
	for _, p := range []string{"/api/v1/clients/" + edgeID + "/deployments", d.URL, state.Bundle.URL} {
		if code, _, b := other.call("GET", p, "", nil); code != 404 {
			t.Errorf("another device asks %s: %d %s, want 404", p, code, b)
		}
	}
	if code, _, _ := other.call("PUT", "/api/v1/clients/"+edgeID+"/capabilities", caps, nil); code != 404 {
		t.Errorf("another device writes this one's capabilities: %d, want 404", code)
	}
	impostor := margoClient{t: t, base: h.URL(), router: router, signer: &uplink.Signer{KeyID: edgeID, Key: otherKey}}
	if code, _, _ := impostor.call("GET", "/api/v1/clients/"+edgeID+"/deployments", "", nil); code != 401 {
		t.Errorf("this device's ID with another key: %d, want 401", code)
	}
}

// fleetMargo is what the edge's page says of a Margo client.
type fleetMargo struct {
	Capabilities *margo.Capabilities      `json:"capabilities"`
	Deployments  []margo.DeploymentStatus `json:"deployments"`
}

// startHub starts a hub on cfg (its listener on port 0, its first-start
// output discarded), closed when t ends, and an admin client of it.
func startHub(t *testing.T, cfg hub.Config) (*hub.Hub, client) {
	t.Helper()
	cfg.Listen, cfg.Out = "127.0.0.1:0", io.Discard
	h, err := hub.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	admin, err := h.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	return h, client{t: t, base: h.URL(), token: admin}
}

// newEdge registers an edge called name at h: its ID and enrollment token.
func newEdge(t *testing.T, h *hub.Hub, name string) (id, token string) {
	t.Helper()
	id, token, err := h.CreateEdge(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return id, token
}
