package edge

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/molen-io/molen/internal/atomicfile"
	"github.com/molen-io/molen/internal/uplink"
)

// credential is what an enrolled edge keeps: its identity at the hub and the
// secret it authenticates with: its Ed25519 key (edges enrolled since edge
// keys; docs/adr/0008-edge-identity.md) or, for edges enrolled before, a
// bearer credential until the edge registers a key. The file is 0600 and
// never logged.
type credential struct {
	Hub        string `json:"hub"`
	EdgeID     string `json:"edge_id"`
	Org        string `json:"org"`
	Name       string `json:"name"`
	Credential string `json:"credential,omitempty"`
	// Key is the edge's private key (the base64url Ed25519 seed).
	Key string `json:"key,omitempty"`
	// PendingKey is a new key being registered at the hub (a rotation,
	// or the move from a credential to a key): kept until the hub
	// confirmed it, so that a change whose answer was lost completes.
	PendingKey string `json:"pending_key,omitempty"`
	// Pending marks a key (or credential) proposed to the hub and not yet
	// confirmed; TokenHash is the hash of the token it was proposed with.
	Pending   bool   `json:"pending,omitempty"`
	TokenHash string `json:"token_hash,omitempty"`
	// ReleaseKeys are the hub's release-signing keys (uplink.EncodeKey)
	// as it named them at the edge's first enrollment, kept since: what
	// a later hub says does not change them (--release-key overrides).
	ReleaseKeys []string `json:"release_keys,omitempty"`
	// MarketKeys are the platform's marketplace keys (uplink.EncodeKey),
	// pinned the same way (--market-key overrides).
	MarketKeys []string `json:"market_keys,omitempty"`

	keyFingerprint string // set by public: the key's, for the status
}

// newKeyText makes a new Ed25519 key in the form credential keeps.
func newKeyText() string {
	seed := make([]byte, ed25519.SeedSize)
	_, _ = rand.Read(seed) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(seed)
}

// parseKey reads a key kept by newKeyText.
func parseKey(s string) (ed25519.PrivateKey, error) {
	seed, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("key: not a base64url Ed25519 seed")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// signer is the signer of c's key; nil for an edge that authenticates by
// credential.
func (c credential) signer() *uplink.Signer {
	if c.Key == "" {
		return nil
	}
	k, err := parseKey(c.Key) // checked by loadCredential
	if err != nil {
		return nil
	}
	return &uplink.Signer{KeyID: c.EdgeID, Key: k}
}

// public returns c with its secrets blanked and its key's fingerprint,
// for the status.
func (c credential) public() credential {
	if k, err := parseKey(c.Key); err == nil && c.Key != "" {
		c.keyFingerprint = uplink.Fingerprint(publicKey(k))
	}
	c.Credential, c.Key, c.PendingKey = "", "", ""
	return c
}

const credentialFile = "credential.json"

// loadCredential returns the stored credential; ok is false if there is none.
func loadCredential(dir string) (c credential, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, credentialFile))
	if errors.Is(err, os.ErrNotExist) {
		return credential{}, false, nil
	}
	if err != nil {
		return credential{}, false, fmt.Errorf("read credential: %w", err)
	}
	err = json.Unmarshal(b, &c)
	for _, k := range []string{c.Key, c.PendingKey} {
		if _, kerr := parseKey(k); err == nil && k != "" && kerr != nil {
			err = kerr
		}
	}
	if err != nil || c.Credential == "" && c.Key == "" {
		return credential{}, false, fmt.Errorf("credential file %s is damaged; remove it and enroll again", filepath.Join(dir, credentialFile))
	}
	return c, true, nil
}

// saveCredential writes c atomically.
func saveCredential(dir string, c credential) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, credentialFile), b); err != nil {
		return fmt.Errorf("write credential: %w", err)
	}
	return nil
}

// writeFileAtomic writes a 0600 file whole or not at all.
func writeFileAtomic(path string, b []byte) error { return atomicfile.Write(path, b, 0o600) }
