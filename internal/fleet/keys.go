package fleet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/uplink"
)

// MaxSkew bounds how far the time of a request's signature may be from
// the hub's clock, either way. A signature outside it is refused, so a
// captured request is worth replaying for at most this long, and the
// hub's memory of nonces (replays) need cover no more.
const MaxSkew = 5 * time.Minute

// KeyGrace is how long the previous key of an edge keeps working after
// the edge registered a new one: requests signed just before the change
// (a batch on its way) still go through.
const KeyGrace = 5 * time.Minute

// maxNonces bounds the nonces the hub remembers: with MaxSkew of 5
// minutes, 3,500 signed requests a second. Past it, signed requests are
// answered 503 (retry) rather than remembered loosely.
const maxNonces = 1 << 20

// replays remembers the nonces of signed requests until their signatures
// expire, so that each signed request is accepted once by this hub.
type replays struct {
	mu        sync.Mutex // guards seen and nextPrune
	seen      map[string]int64
	nextPrune int64
}

// add records the nonce key until expires (unix ns); false if it is
// there already. errFull if the map is at its bound.
func (r *replays) add(key string, expires, now int64) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]int64{}
	}
	if now >= r.nextPrune || len(r.seen) >= maxNonces {
		for k, exp := range r.seen {
			if exp <= now {
				delete(r.seen, k)
			}
		}
		r.nextPrune = now + int64(time.Second)
	}
	if exp, ok := r.seen[key]; ok && exp > now {
		return false, nil
	}
	if len(r.seen) >= maxNonces {
		return false, fmt.Errorf("%w: too many signed requests within the signature window", uplink.ErrBusy)
	}
	r.seen[key] = expires
	return true, nil
}

// AuthenticateRequest implements api.RequestAuthenticator for signed
// edge requests (uplink.Signer): the signature must be the current (or,
// within KeyGrace of a change, the previous) key's of an enrolled,
// unrevoked edge, made within MaxSkew of the hub's clock, over this
// request's method, path and body, with a nonce not seen before. The body
// is read here (within the route's bound) and put back for the handler.
// Every refusal is api.ErrRevoked or wraps api.ErrUnauthenticated or
// uplink.ErrBadSignature, which say why (401).
func (s *Service) AuthenticateRequest(r *http.Request) (api.Principal, error) {
	sig, err := uplink.ParseSignature(r)
	if errors.Is(err, uplink.ErrNotSigned) {
		return api.Principal{}, api.ErrUnauthenticated
	}
	if err != nil {
		return api.Principal{}, err
	}
	now := s.now()
	if d := now.Sub(sig.Created); d > MaxSkew || d < -MaxSkew {
		return api.Principal{}, fmt.Errorf("%w: signed at %s, the hub's clock says %s: more than %s apart; set the edge's clock (NTP)",
			uplink.ErrBadSignature, sig.Created.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), MaxSkew)
	}
	e, err := s.edgeByID(r.Context(), sig.KeyID)
	if errors.Is(err, meta.ErrNotFound) {
		return api.Principal{}, api.ErrUnauthenticated
	}
	if err != nil {
		return api.Principal{}, fmt.Errorf("look up edge key: %w", err)
	}
	if e.Revoked {
		return api.Principal{}, api.ErrRevoked
	}
	if !verifies(sig, e.PublicKey) && !(now.Before(e.PrevUntil) && verifies(sig, e.PrevKey)) {
		return api.Principal{}, fmt.Errorf("%w: not signed by the key of edge %s", uplink.ErrBadSignature, e.ID)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return api.Principal{}, fmt.Errorf("read signed body: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := sig.CheckBody(body); err != nil {
		return api.Principal{}, err
	}
	fresh, err := s.replays.add(e.ID+" "+sig.Nonce, meta.Nanos(sig.Created.Add(MaxSkew+time.Second)), meta.Nanos(now))
	if err != nil {
		return api.Principal{}, err
	}
	if !fresh {
		return api.Principal{}, fmt.Errorf("%w: nonce used before (a replayed request)", uplink.ErrBadSignature)
	}
	return api.Principal{Org: e.Org, Role: api.RoleEdge, Name: e.Name, Edge: e.ID}, nil
}

func verifies(sig uplink.Signature, key string) bool {
	if key == "" {
		return false
	}
	pub, err := uplink.DecodePublicKey(key)
	return err == nil && sig.Verify(pub)
}

// edgeByID returns the edge with ID id, of whichever organisation: for
// authentication only, where the ID comes with a proof.
func (s *Service) edgeByID(ctx context.Context, id string) (Edge, error) {
	if !meta.Text(id) {
		return Edge{}, meta.ErrNotFound
	}
	return scanEdge(s.db.QueryRowContext(ctx, `SELECT `+edgeColumns+` FROM edges WHERE id = $1`, id))
}

// SetKey makes pub the key edge id of org authenticates with. Its
// previous key stays valid for KeyGrace; its bearer credential, if it
// had one, stops working at once (the edge moved to keys). Setting the
// key the edge has already succeeds and changes nothing, so an edge whose
// answer was lost confirms the change by asking again, signed with the
// new key. meta.ErrNotFound for an unknown or revoked edge; meta.ErrExists
// if another edge has pub.
func (s *Service) SetKey(ctx context.Context, org, id string, pub ed25519.PublicKey) error {
	key := uplink.EncodeKey(pub)
	e, err := s.Edge(ctx, org, id)
	if err == nil && e.Revoked {
		err = meta.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("set key of edge %s: %w", id, err)
	}
	if e.PublicKey == key {
		return nil
	}
	now := s.now()
	err = meta.Changed(s.db.ExecContext(ctx, `UPDATE edges SET pubkey = $1, prev_key = $2, prev_until = $3, cred_hash = ''
		WHERE org = $4 AND id = $5 AND NOT revoked AND pubkey = $6`,
		key, e.PublicKey, meta.Nanos(now.Add(KeyGrace)), org, id, e.PublicKey))
	if meta.Unique(err) {
		err = meta.ErrExists
	}
	if err != nil {
		return fmt.Errorf("set key of edge %s: %w", id, err)
	}
	action, detail := "edge.key_rotated", map[string]string{"key": uplink.Fingerprint(key)}
	if e.PublicKey == "" {
		action = "edge.key_registered" // an edge enrolled with a credential moved to a key
	} else {
		detail["previous"] = uplink.Fingerprint(e.PublicKey)
	}
	s.log.Info("edge key changed", "edge", id, "org", org, "key", detail["key"], "previous", detail["previous"])
	s.record(ctx, audit.Entry{Org: org, Actor: id, Action: action, Target: id, Detail: detail})
	return nil
}
