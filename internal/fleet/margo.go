package fleet

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/margo"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/uplink"
)

// margoRoutes serve Margo's workload management API
// (workload-management-api-1.0.0.yaml, docs/fleet.md#margo) to devices
// that are Margo clients: onboarding with an enrollment token and a
// self-signed Ed25519 certificate, then requests signed as a molen edge's
// are (ADR 0008); the client ID is the edge's ID and must be the caller's.
func (s *Service) margoRoutes() []api.Route {
	return []api.Route{
		{Method: "POST", Path: "/api/v1/onboarding", Auth: api.Public, Stream: s.margoOnboard, MaxBody: 16 << 10},
		{Method: "GET", Path: "/api/v1/clients/{clientId}/deployments", Auth: api.Edge, Stream: s.margoManifest},
		{Method: "GET", Path: "/api/v1/clients/{clientId}/deployments/{deploymentId}/{digest}", Auth: api.Edge, Stream: s.margoDeployment},
		{Method: "GET", Path: "/api/v1/clients/{clientId}/bundles/{digest}", Auth: api.Edge, Stream: s.margoBundle},
		{Method: "POST", Path: "/api/v1/clients/{clientId}/deployments/{deploymentId}/status", Auth: api.Edge, Stream: s.margoStatus, MaxBody: 256 << 10},
		{Method: "POST", Path: "/api/v1/clients/{clientId}/capabilities", Auth: api.Edge, Stream: s.margoCapabilities, MaxBody: 256 << 10},
		{Method: "PUT", Path: "/api/v1/clients/{clientId}/capabilities", Auth: api.Edge, Stream: s.margoCapabilities, MaxBody: 256 << 10},
	}
}

// margoError answers {"error": msg} with code, the form of the
// specification's error answers, and counts the refusal.
func (s *Service) margoError(w http.ResponseWriter, code int, msg string) {
	s.margoRefused.WithLabelValues(strconv.Itoa(code)).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// margoOnboard enrolls a Margo client: the one-time enrollment token of an
// edge registered at the hub as a bearer token, and an OnboardingRequest
// whose certificate (base64 of PEM or DER) is self-signed with an Ed25519
// key, which proves the client holds the key. The client's requests are
// then signed with that key; its clientId is the edge's ID.
func (s *Service) margoOnboard(w http.ResponseWriter, r *http.Request, _ api.Principal) error {
	var req struct {
		APIVersion  string `json:"apiVersion"`
		Kind        string `json:"kind"`
		Certificate string `json:"certificate"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Kind != "OnboardingRequest" || req.APIVersion == "" {
		s.margoError(w, http.StatusBadRequest, `body must be {"apiVersion": "margo.org/v1", "kind": "OnboardingRequest", "certificate": "<base64>"}`)
		return nil
	}
	pub, err := onboardingKey(req.Certificate)
	if err != nil {
		s.margoError(w, http.StatusBadRequest, "Invalid certificate: "+err.Error())
		return nil
	}
	token, _ := api.Bearer(r)
	e, err := s.enrollPublicKey(r.Context(), token, pub, "margo")
	switch {
	case errors.Is(err, api.ErrUnauthenticated):
		s.margoError(w, http.StatusForbidden, "Client rejected: the enrollment token (Authorization: Bearer mle_…) is unknown, used or expired")
		return nil
	case err != nil:
		return err
	}
	// From now on its manifest holds its deployments only.
	if err := s.storeMargo(r.Context(), api.Principal{Org: e.Org, Edge: e.ID}, margoClientKind, map[string]string{"by": "onboarding"}); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	return json.NewEncoder(w).Encode(map[string]string{"clientId": e.ID})
}

// onboardingKey returns the Ed25519 key of a self-signed certificate.
func onboardingKey(b64 string) (ed25519.PublicKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, errors.New("not base64")
	}
	if block, _ := pem.Decode(raw); block != nil {
		raw = block.Bytes
	}
	cert, err := x509.ParseCertificate(raw)
	if err != nil {
		return nil, fmt.Errorf("not an X.509 certificate: %v", err)
	}
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("the key must be Ed25519 (RSA and ECDSA are not supported yet)")
	}
	if cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) != nil {
		return nil, errors.New("must be signed with its own key (self-signed), to prove the client holds it")
	}
	return pub, nil
}

// margoClient checks that the path's clientId is the calling edge: another
// client's (or an unknown) ID is not found.
func margoClient(r *http.Request, p api.Principal) error {
	if r.PathValue("clientId") != p.Edge {
		return fmt.Errorf("client %q: %w", r.PathValue("clientId"), meta.ErrNotFound)
	}
	return nil
}

// margoView is the Margo side of an edge's manifest: each deployment part
// as YAML with its digest, and the bundle of them all.
type margoView struct {
	state  margo.StateManifest
	yaml   map[string][]byte // deploymentId → YAML
	bundle []byte            // nil without deployments
	etag   string
}

// sha256Digest is the digest form the specification uses.
func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// margoState computes the Margo view of the calling edge's manifest. Its
// version is the manifest's, so that molen's and Margo's views of one
// desired state never disagree.
func (s *Service) margoState(ctx context.Context, p api.Principal) (margoView, error) {
	d, err := s.Desired(ctx, p.Org, p.Edge)
	if err != nil {
		return margoView{}, err
	}
	v := margoView{state: margo.StateManifest{ManifestVersion: d.Manifest.Version, Deployments: []margo.DeploymentRef{}},
		yaml: map[string][]byte{}, etag: ETag(d.Manifest)}
	var tarball bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&tarball, gzip.BestCompression) // no name, no time: the same bytes each time
	tw := tar.NewWriter(zw)
	for _, part := range d.Manifest.Parts {
		if part.Kind != uplink.PartDeployment {
			continue
		}
		_, id := uplink.SplitPartName(part.Name)
		var doc any
		if err := json.Unmarshal(part.Content, &doc); err != nil {
			return margoView{}, fmt.Errorf("deployment %s: %w", id, err)
		}
		y, err := yaml.Marshal(doc)
		if err != nil {
			return margoView{}, fmt.Errorf("deployment %s: %w", id, err)
		}
		v.yaml[id] = y
		digest := sha256Digest(y)
		v.state.Deployments = append(v.state.Deployments, margo.DeploymentRef{DeploymentID: id, Digest: digest, SizeBytes: len(y),
			URL: "/api/v1/clients/" + p.Edge + "/deployments/" + id + "/" + digest})
		if err := tw.WriteHeader(&tar.Header{Name: id + ".yaml", Mode: 0o644, Size: int64(len(y)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return margoView{}, err
		}
		if _, err := tw.Write(y); err != nil {
			return margoView{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return margoView{}, err
	}
	if err := zw.Close(); err != nil {
		return margoView{}, err
	}
	if len(v.yaml) > 0 {
		v.bundle = tarball.Bytes()
		digest := sha256Digest(v.bundle)
		v.state.Bundle = &margo.BundleRef{MediaType: margo.BundleType, Digest: digest, SizeBytes: len(v.bundle),
			URL: "/api/v1/clients/" + p.Edge + "/bundles/" + digest}
	}
	return v, nil
}

// accepts reports whether an Accept header allows the manifest's type.
func accepts(accept string) bool {
	if accept == "" {
		return true
	}
	for _, t := range strings.Split(accept, ",") {
		t, _, _ = strings.Cut(strings.TrimSpace(t), ";")
		if slices.Contains([]string{margo.ManifestType, "application/json", "application/*", "*/*"}, t) {
			return true
		}
	}
	return false
}

func (s *Service) margoManifest(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	if err := margoClient(r, p); err != nil {
		return err
	}
	if !accepts(r.Header.Get("Accept")) {
		s.margoError(w, http.StatusNotAcceptable, "the manifest is served as "+margo.ManifestType)
		return nil
	}
	v, err := s.margoState(r.Context(), p)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", v.etag)
	w.Header().Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == v.etag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Header().Set("Content-Type", margo.ManifestType)
	return json.NewEncoder(w).Encode(v.state)
}

func (s *Service) margoDeployment(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	if err := margoClient(r, p); err != nil {
		return err
	}
	v, err := s.margoState(r.Context(), p)
	if err != nil {
		return err
	}
	y, ok := v.yaml[r.PathValue("deploymentId")]
	if !ok || sha256Digest(y) != r.PathValue("digest") {
		return fmt.Errorf("deployment %s with digest %s: %w", r.PathValue("deploymentId"), r.PathValue("digest"), meta.ErrNotFound)
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("ETag", v.etag)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, err = w.Write(y)
	return err
}

func (s *Service) margoBundle(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	if err := margoClient(r, p); err != nil {
		return err
	}
	v, err := s.margoState(r.Context(), p)
	if err != nil {
		return err
	}
	if v.bundle == nil || v.state.Bundle.Digest != r.PathValue("digest") {
		return fmt.Errorf("bundle %s: %w", r.PathValue("digest"), meta.ErrNotFound)
	}
	tag := `"` + v.state.Bundle.Digest + `"`
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Header().Set("Content-Type", margo.BundleType)
	_, err = w.Write(v.bundle)
	return err
}

// readMargo decodes a Margo document: 400 for what is not JSON, 422 for a
// document that does not follow the specification (answered here).
func (s *Service) readMargo(w http.ResponseWriter, r *http.Request, v interface{ Validate() error }) bool {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		s.margoError(w, http.StatusRequestEntityTooLarge, "body too large")
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		s.margoError(w, http.StatusBadRequest, "body must be JSON: "+err.Error())
		return false
	}
	if err := v.Validate(); err != nil {
		s.margoError(w, http.StatusUnprocessableEntity, err.Error())
		return false
	}
	return true
}

func (s *Service) margoStatus(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	if err := margoClient(r, p); err != nil {
		return err
	}
	var st margo.DeploymentStatus
	if !s.readMargo(w, r, &st) {
		return nil
	}
	if st.DeploymentID != r.PathValue("deploymentId") {
		s.margoError(w, http.StatusUnprocessableEntity, "deploymentId: must be the path's")
		return nil
	}
	if err := s.storeMargo(r.Context(), p, "status/"+st.DeploymentID, st); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) margoCapabilities(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	if err := margoClient(r, p); err != nil {
		return err
	}
	var c margo.Capabilities
	if !s.readMargo(w, r, &c) {
		return nil
	}
	if err := s.storeMargo(r.Context(), p, "capabilities", c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

// storeMargo keeps the latest document of kind a Margo client reported.
func (s *Service) storeMargo(ctx context.Context, p api.Principal, kind string, doc any) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO edge_margo (edge, org, kind, doc, reported) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (edge, kind) DO UPDATE SET doc = excluded.doc, reported = excluded.reported`,
		p.Edge, p.Org, kind, string(b), meta.Nanos(s.now()))
	if err != nil {
		return fmt.Errorf("store %s of %s: %w", kind, p.Edge, err)
	}
	return nil
}

// margoClientKind marks, in edge_margo, an edge that onboarded as a Margo
// client.
const margoClientKind = "client"

// isMargoClient reports whether edge onboarded as a Margo client.
func (s *Service) isMargoClient(ctx context.Context, edge string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM edge_margo WHERE edge = $1 AND kind = $2`, edge, margoClientKind).Scan(&n); err != nil {
		return false, fmt.Errorf("margo client %s: %w", edge, err)
	}
	return n > 0, nil
}

// MargoReported is what a Margo client reported: its capabilities and
// each deployment's status (nil, empty: nothing).
type MargoReported struct {
	Client       bool                     `json:"client,omitempty"` // onboarded as a Margo client
	Capabilities *margo.Capabilities      `json:"capabilities,omitempty"`
	Deployments  []margo.DeploymentStatus `json:"deployments,omitempty"`
}

// Margo returns what the edge id of org reported through the Margo API.
func (s *Service) Margo(ctx context.Context, org, id string) (MargoReported, error) {
	var out MargoReported
	rows, err := s.db.QueryContext(ctx, `SELECT kind, doc FROM edge_margo WHERE org = $1 AND edge = $2 ORDER BY kind`, org, id)
	if err != nil {
		return out, fmt.Errorf("margo reports of %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, doc string
		if err := rows.Scan(&kind, &doc); err != nil {
			return out, fmt.Errorf("margo reports of %s: %w", id, err)
		}
		switch kind {
		case margoClientKind:
			out.Client = true
		case "capabilities":
			out.Capabilities = new(margo.Capabilities)
			err = json.Unmarshal([]byte(doc), out.Capabilities)
		default:
			var st margo.DeploymentStatus
			if err = json.Unmarshal([]byte(doc), &st); err == nil {
				out.Deployments = append(out.Deployments, st)
			}
		}
		if err != nil {
			return out, fmt.Errorf("margo report %s of %s: %w", kind, id, err)
		}
	}
	return out, rows.Err()
}
