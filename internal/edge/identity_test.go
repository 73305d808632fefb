package edge_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/secret"
	"github.com/molen-io/molen/internal/uplink"
)

// storedCredential reads the edge's credential file.
func (v *env) storedCredential() map[string]any {
	v.t.Helper()
	b, err := os.ReadFile(filepath.Join(v.cfg.DataDir, "credential.json"))
	if err != nil {
		v.t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		v.t.Fatal(err)
	}
	return c
}

// bearer sends an empty uplink with a bearer credential and returns the
// status.
func (v *env) bearer(cred string) int {
	v.t.Helper()
	req, _ := http.NewRequest("POST", v.hub.URL()+"/api/v1/uplink", strings.NewReader("x"))
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestEdgeEnrollsWithItsOwnKey(t *testing.T) {
	v := start(t)
	publish(t, v.device(4), "f/m/k", []byte("1"))
	eventually(t, "the value at the hub", func() bool { return v.latest("f/m")["f/m/k"] == float64(1) })
	st := v.edge.Status()
	if st.Edge.Auth != "key" || !strings.HasPrefix(st.Edge.Key, "sha256/") {
		t.Errorf("status edge auth %q key %q, want a key", st.Edge.Auth, st.Edge.Key)
	}
	c := v.storedCredential()
	if c["key"] == nil || c["credential"] != nil {
		t.Errorf("credential file holds %v, want a key and no credential", keys(c))
	}
	var list struct {
		Edges []struct {
			ID, Auth, Key string
		} `json:"edges"`
	}
	v.getJSON("/api/v1/edges", &list)
	found := false
	for _, e := range list.Edges {
		if e.ID == st.Edge.ID {
			found = true
			if e.Auth != "key" || e.Key != st.Edge.Key {
				t.Errorf("hub lists the edge with auth %q key %q, want key %q", e.Auth, e.Key, st.Edge.Key)
			}
		}
	}
	if !found {
		t.Errorf("edge %s not in the hub's list", st.Edge.ID)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// An edge enrolled with a credential (before edge keys) keeps its buffer
// and moves to a key at its next start; its credential stops working.
func TestCredentialEdgeMovesToAKey(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	// An edge enrolled the old way: a credential file with a bearer
	// credential, and data buffered while it was down.
	_, token, err := v.hub.CreateEdge(t.Context(), "old-edge")
	if err != nil {
		t.Fatal(err)
	}
	cred := secret.New(secret.PrefixCredential)
	en, err := (&uplink.Client{URL: v.hub.URL()}).Enroll(t.Context(), token, cred)
	if err != nil {
		t.Fatal(err)
	}
	v.cfg.DataDir, v.cfg.EnrollToken = t.TempDir(), ""
	old, _ := json.Marshal(map[string]string{"hub": v.hub.URL(), "edge_id": en.EdgeID, "org": en.Org, "name": en.Name, "credential": cred})
	if err := os.WriteFile(filepath.Join(v.cfg.DataDir, "credential.json"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := v.bearer(cred); code == http.StatusUnauthorized {
		t.Fatalf("old credential refused before the move: %d", code)
	}
	v.startEdge()
	dev := v.device(4)
	for i := 1; i <= 20; i++ {
		publish(t, dev, "f/old/n", []byte(fmt.Sprint(i)))
	}
	eventually(t, "the edge to move to a key", func() bool { return v.edge.Status().Edge.Auth == "key" })
	eventually(t, "all values at the hub", func() bool { return v.count("f/old/n") == 20 })
	if code := v.bearer(cred); code != http.StatusUnauthorized {
		t.Errorf("old credential after the move: %d, want 401", code)
	}
	c := v.storedCredential()
	if c["credential"] != nil || c["key"] == nil || c["pending_key"] != nil {
		t.Errorf("credential file after the move holds %v, want the key only", keys(c))
	}
	if v.edge.Status().Edge.ID != en.EdgeID {
		t.Errorf("edge ID changed: %s, want %s", v.edge.Status().Edge.ID, en.EdgeID)
	}
	// Restarted, it goes on with its key.
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	v.startEdge()
	publish(t, v.device(4), "f/old/n", []byte("21"))
	eventually(t, "the value after the restart", func() bool { return v.count("f/old/n") == 21 })
}

// Rotating the key while devices publish loses nothing; the new key works
// after a restart.
func TestRotateKeyLosesNothing(t *testing.T) {
	v := start(t)
	dev := v.device(4)
	publish(t, dev, "f/rot/n", []byte("0"))
	eventually(t, "the first value at the hub", func() bool { return v.count("f/rot/n") == 1 })
	before := v.edge.Status().Edge.Key
	done := make(chan error, 1)
	go func() {
		// Through the status API, as molen edge rotate-key does.
		resp, err := http.Post("http://"+v.edge.StatusAddr()+"/api/v1/rotate-key", "", nil)
		if err == nil {
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("rotate-key answered %s", resp.Status)
			}
			resp.Body.Close()
		}
		done <- err
	}()
	for i := 1; i < 100; i++ {
		publish(t, dev, "f/rot/n", []byte(fmt.Sprint(i)))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	after := v.edge.Status().Edge.Key
	if after == before || after == "" {
		t.Errorf("key fingerprint %q after rotation, was %q", after, before)
	}
	eventually(t, "all values at the hub", func() bool { return v.count("f/rot/n") == 100 })
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	v.startEdge()
	publish(t, v.device(4), "f/rot/n", []byte("100"))
	eventually(t, "the value after the restart", func() bool { return v.count("f/rot/n") == 101 })
	if got := v.edge.Status().Edge.Key; got != after {
		t.Errorf("key after restart %q, want %q", got, after)
	}
}

// A key change whose answer was lost (the hub has the new key, the edge
// still holds it as pending) completes at the next start: nothing is
// refused for good, nothing lost.
func TestInterruptedKeyChangeCompletes(t *testing.T) {
	v := start(t)
	publish(t, v.device(4), "f/int/n", []byte("1"))
	eventually(t, "the first value", func() bool { return v.count("f/int/n") == 1 })
	id := v.edge.Status().Edge.ID
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	c := v.storedCredential()
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 7
	next := ed25519.NewKeyFromSeed(seed)
	// The hub registered the new key (the answer was lost), and the old
	// key is past its grace: two changes (through a key the edge never
	// had) leave the old key no longer accepted, so the edge is refused
	// until it confirms its pending key.
	_, other, _ := ed25519.GenerateKey(nil)
	for _, k := range []ed25519.PrivateKey{other, next} {
		if err := v.hub.Fleet().SetKey(t.Context(), c["org"].(string), id, k.Public().(ed25519.PublicKey)); err != nil {
			t.Fatal(err)
		}
	}
	c["pending_key"] = base64.RawURLEncoding.EncodeToString(seed)
	b, _ := json.Marshal(c)
	if err := os.WriteFile(filepath.Join(v.cfg.DataDir, "credential.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	v.startEdge()
	publish(t, v.device(4), "f/int/n", []byte("2"))
	eventually(t, "the value after the restart", func() bool { return v.count("f/int/n") == 2 })
	want := uplink.Fingerprint(uplink.EncodeKey(next.Public().(ed25519.PublicKey)))
	eventually(t, "the edge on the pending key", func() bool { return v.edge.Status().Edge.Key == want })
	if c := v.storedCredential(); c["pending_key"] != nil {
		t.Errorf("pending key still stored after the change completed")
	}
}

// Signed requests pass a TLS-terminating proxy in front of the hub, and
// the edge talks only to the hub (here: the proxy) whose key it pinned.
func TestSignedUplinksThroughATLSProxyWithAPin(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(v.hub.URL())
	proxy := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(proxy.Close)
	roots := x509.NewCertPool()
	roots.AddCert(proxy.Certificate())
	pin := uplink.CertPin(proxy.Certificate().RawSubjectPublicKeyInfo)

	_, token, err := v.hub.CreateEdge(t.Context(), "behind-proxy")
	if err != nil {
		t.Fatal(err)
	}
	v.cfg.DataDir, v.cfg.HubURL, v.cfg.EnrollToken, v.cfg.HubRoots, v.cfg.HubPins = t.TempDir(), proxy.URL, token, roots, []string{pin}
	v.startEdge()
	publish(t, v.device(4), "f/proxy/n", []byte("1"))
	eventually(t, "the value at the hub through the proxy", func() bool { return v.count("f/proxy/n") == 1 })
	// The hub stores a batch before the edge has its answer: wait until the
	// edge has it too, or the value is pending again after the restart.
	eventually(t, "the edge to have the hub's answer", func() bool { return v.edge.Status().Outbox.PendingPoints == 0 })
	if v.edge.Status().Edge.Auth != "key" {
		t.Errorf("edge behind the proxy authenticates by %q, want key", v.edge.Status().Edge.Auth)
	}

	// Another pin: the edge refuses to talk and says why; data waits.
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("another key"))
	v.cfg.HubPins, v.cfg.EnrollToken = []string{"sha256/" + base64.StdEncoding.EncodeToString(sum[:])}, ""
	v.startEdge()
	publish(t, v.device(4), "f/proxy/n", []byte("2"))
	eventually(t, "the edge to report the pin mismatch", func() bool {
		return strings.Contains(v.edge.Status().Hub.LastError, "does not match --hub-pin")
	})
	if n := v.count("f/proxy/n"); n != 1 {
		t.Errorf("hub has %d values, want 1: the edge talked to a hub whose key it did not pin", n)
	}
	if p := v.edge.Status().Outbox.PendingPoints; p != 1 {
		t.Errorf("pending points %d, want the 1 value kept", p)
	}
}
