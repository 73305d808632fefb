package edge_test

import (
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/molen-io/molen/internal/edge"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/uplink"
)

// The edge learns the hub's release keys when it enrolls and keeps them:
// a hub that names other keys later (restarted with another key, the edge
// revoked and enrolled again with a new token) does not change them.
func TestReleaseKeysLearnedAtEnrollment(t *testing.T) {
	ctx := t.Context()
	first, _, _ := sign.GenerateKey()
	later, _, _ := sign.GenerateKey()
	hubDir := t.TempDir()
	startHub := func(key ed25519.PublicKey) *hub.Hub {
		h, err := hub.Start(ctx, hub.Config{DataDir: hubDir, Listen: "127.0.0.1:0", Out: io.Discard, ReleaseKeys: []ed25519.PublicKey{key}})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := startHub(first)
	defer func() { h.Close() }()
	id, token, err := h.CreateEdge(ctx, "press")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := h.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	v := &env{t: t, hub: h, admin: admin, cfg: edge.Config{DataDir: t.TempDir(), MQTTListen: "127.0.0.1:0", StatusListen: "127.0.0.1:0",
		HubURL: h.URL(), EnrollToken: token, Log: slog.New(slog.DiscardHandler)}}
	v.startEdge()
	pinned := func() []string {
		b, err := os.ReadFile(filepath.Join(v.cfg.DataDir, "credential.json"))
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			EdgeID      string   `json:"edge_id"`
			ReleaseKeys []string `json:"release_keys"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		return c.ReleaseKeys
	}
	eventually(t, "the edge to enroll", func() bool { return v.edge.Status().Edge.Enrolled })
	want := []string{uplink.EncodeKey(first)}
	if got := pinned(); !slices.Equal(got, want) {
		t.Fatalf("release keys after enrollment %v, want the hub's %v", got, want)
	}

	// The hub comes back with another release key; the edge is revoked and
	// enrolled again with a new token.
	req, _ := http.NewRequest("POST", h.URL()+"/api/v1/edges/"+id+"/revoke", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	h = startHub(later)
	_, probe, err := h.CreateEdge(ctx, "probe")
	if err != nil {
		t.Fatal(err)
	}
	if en, err := (&uplink.Client{URL: h.URL()}).Enroll(ctx, probe, ""); err != nil || !slices.Equal(en.ReleaseKeys, []string{uplink.EncodeKey(later)}) {
		t.Fatalf("the restarted hub names %v (%v), want its new key", en.ReleaseKeys, err)
	}
	again, token, err := h.CreateEdge(ctx, "press-again")
	if err != nil {
		t.Fatal(err)
	}
	v.hub, v.cfg.HubURL, v.cfg.EnrollToken = h, h.URL(), token
	v.startEdge()
	publish(t, v.device(4), "f/m/n", []byte("1"))
	eventually(t, "the edge enrolled again", func() bool { return v.edge.Status().Edge.ID == again })
	if got := pinned(); !slices.Equal(got, want) {
		t.Errorf("release keys after enrolling again at a hub that names another key: %v, want the first %v", got, want)
	}
}
