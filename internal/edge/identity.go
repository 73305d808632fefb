package edge

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/molen-io/molen/internal/uplink"
)

// Key changes (docs/edge.md, "Identity"): the edge registers a new key at
// the hub, authorised by its current key (or, for an edge enrolled before
// edge keys, by its credential), with the new key's proof. The new key is
// stored as pending before the hub is asked, and becomes the key once the
// hub confirmed it: a change whose answer was lost (or a crash in
// between) completes the next time, because the hub confirms a key it
// has already when asked with that key. Data keeps flowing: the forwarder
// signs each request with the key of the moment (Edge.signer), and the
// hub accepts the previous key for a while after the change.

// keyRetryMissing is how long an edge waits before asking again a hub
// that does not know key registration (a hub from before edge keys).
const keyRetryMissing = time.Hour

// RotateKey gives the edge a new key: made here, registered at the hub,
// then used for every request. It returns the new key's fingerprint.
// Buffered data keeps flowing meanwhile. An edge enrolled with a
// credential moves to a key this way.
func (e *Edge) RotateKey(ctx context.Context) (string, error) {
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	c, ok, err := loadCredential(e.cfg.DataDir)
	if err != nil {
		return "", err
	}
	if !ok || c.Pending {
		return "", errors.New("this edge is not enrolled yet: nothing to rotate")
	}
	if c, err = e.changeKey(ctx, e.hubOf(c), c); err != nil {
		return "", err
	}
	return c.public().keyFingerprint, nil
}

// hubOf is the hub's address: the flag's, else the one enrolled at.
func (e *Edge) hubOf(c credential) string {
	if e.cfg.HubURL != "" {
		return e.cfg.HubURL
	}
	return c.Hub
}

// changeKey registers c's pending key (made now if it has none) and makes
// it c's key. keyMu must be held.
func (e *Edge) changeKey(ctx context.Context, hub string, c credential) (credential, error) {
	if c.PendingKey == "" {
		c.PendingKey = newKeyText()
		if err := saveCredential(e.cfg.DataDir, c); err != nil {
			return c, fmt.Errorf("store the new key before registering it: %w", err)
		}
	}
	next, err := parseKey(c.PendingKey)
	if err != nil {
		return c, err // checked by loadCredential
	}
	cur := c.signer()
	client := &uplink.Client{URL: hub, HTTP: e.http, Credential: c.Credential, Signer: func() *uplink.Signer { return cur }}
	err = client.RegisterKey(ctx, c.EdgeID, next)
	if errors.Is(err, uplink.ErrUnauthorized) {
		// The hub may have the new key already: the answer to an earlier
		// change was lost. Asking with the new key confirms it.
		ns := &uplink.Signer{KeyID: c.EdgeID, Key: next}
		client.Signer = func() *uplink.Signer { return ns }
		if client.RegisterKey(ctx, c.EdgeID, next) == nil {
			err = nil
		}
	}
	if err != nil {
		return c, err
	}
	c.Key, c.PendingKey, c.Credential = c.PendingKey, "", ""
	// The hub takes the new key from now on: use it even if it cannot be
	// stored (the next start confirms the pending key again).
	e.useIdentity(c)
	e.log.Info("edge key registered at the hub", "edge_id", c.EdgeID, "key", c.public().keyFingerprint)
	if err := saveCredential(e.cfg.DataDir, c); err != nil {
		return c, fmt.Errorf("the hub has the new key, but it cannot be stored: %w", err)
	}
	return c, nil
}

// ensureKey moves an edge enrolled with a credential to a key, and
// completes a key change that was interrupted. The forwarder calls it
// when the hub answered; it does the work when there is some, and after a
// failure not before a while has passed.
func (e *Edge) ensureKey(ctx context.Context, hub string) {
	if !e.keyWanted.Load() || time.Now().Before(e.keyRetry) {
		return
	}
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	c, ok, err := loadCredential(e.cfg.DataDir)
	if err != nil || !ok || c.Pending || c.PendingKey == "" && c.Key != "" {
		e.keyWanted.Store(false)
		return
	}
	_, err = e.changeKey(ctx, hub, c)
	if err == nil || ctx.Err() != nil {
		return
	}
	wait := unauthorizedRetry
	if se, ok := errors.AsType[*uplink.StatusError](err); ok && se.Code == http.StatusNotFound {
		wait = keyRetryMissing
	}
	e.keyRetry = time.Now().Add(wait)
	e.log.Warn("cannot register this edge's key at the hub yet; it goes on as it is and tries again", "err", err, "retry_in", wait)
}

// confirmKey completes a key change whose answer was lost, when the hub
// refuses the key the edge uses: it reports whether the pending key is
// now the edge's key.
func (e *Edge) confirmKey(ctx context.Context, hub string) bool {
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	c, ok, err := loadCredential(e.cfg.DataDir)
	if err != nil || !ok || c.PendingKey == "" {
		return false
	}
	_, err = e.changeKey(ctx, hub, c)
	return err == nil
}

// publicKey is the text form of k's public key (uplink.EncodeKey).
func publicKey(k ed25519.PrivateKey) string {
	return uplink.EncodeKey(k.Public().(ed25519.PublicKey))
}
