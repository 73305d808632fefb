package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/uplink"
)

// MaxSecret is the longest secret value a layer holds, in bytes.
const MaxSecret = 8 << 10

// SecretInfo is what the hub says of a layer's secret: its name and when
// it was set, never its value.
type SecretInfo struct {
	Name    string `json:"name"`
	Updated int64  `json:"updated"` // unix ms
}

// SetSecretsKey has the service keep secrets encrypted with the key in
// file, made (mode 0600) when there is none. Hubs that share a database
// must share the file. Without a key, secrets cannot be set.
func (s *Service) SetSecretsKey(file string) error {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		k, kerr := uplink.NewKeyring()
		if kerr != nil {
			return kerr
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return fmt.Errorf("secrets key: %w", err)
		}
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("secrets key: %w", err)
		}
		if _, err := f.WriteString(k.String() + "\n"); err != nil {
			f.Close()
			return fmt.Errorf("secrets key: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("secrets key: %w", err)
		}
		s.keyring = k
		return nil
	}
	if err != nil {
		return fmt.Errorf("secrets key: %w", err)
	}
	k, err := uplink.ParseKeyring(string(b))
	if err != nil {
		return fmt.Errorf("secrets key %s: %w", file, err)
	}
	s.keyring = k
	return nil
}

// PutSecret sets (or replaces) the secret name of a layer. The value is
// encrypted at once; it is never answered, logged or shown again.
func (s *Service) PutSecret(ctx context.Context, org, scope, target, name, value string) error {
	if s.keyring == nil {
		return fmt.Errorf("secrets: the hub has no secrets key")
	}
	l := Layer{Org: org, Scope: scope, Target: target}
	if err := l.Validate(); err != nil {
		return err
	}
	switch {
	case !partName.MatchString(name):
		return api.BadRequest("secrets.%s: name must be 1..63 of a-z 0-9 . _ - (starting with a letter or digit)", name)
	case value == "" || len(value) > MaxSecret || !utf8.ValidString(value):
		return api.BadRequest("secrets.%s: value must be text of 1..%d bytes", name, MaxSecret)
	}
	if err := s.targetExists(ctx, org, scope, target); err != nil {
		return err
	}
	sealed, err := s.keyring.Seal([]byte(value))
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO fleet_secrets (org, scope, target, name, sealed, updated) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (org, scope, target, name) DO UPDATE SET sealed = excluded.sealed, updated = excluded.updated`,
		org, scope, target, name, sealed, meta.Nanos(s.now()))
	if err != nil {
		return fmt.Errorf("store secret %s of layer %s/%s: %w", name, scope, target, err)
	}
	return nil
}

// DeleteSecret removes a layer's secret; meta.ErrNotFound if there is none.
func (s *Service) DeleteSecret(ctx context.Context, org, scope, target, name string) error {
	if err := meta.Changed(s.db.ExecContext(ctx, `DELETE FROM fleet_secrets WHERE org = $1 AND scope = $2 AND target = $3 AND name = $4`, org, scope, target, name)); err != nil {
		return fmt.Errorf("delete secret %s of layer %s/%s: %w", name, scope, target, err)
	}
	return nil
}

// storedSecret is a secret as the hub keeps it.
type storedSecret struct {
	scope, target, name, sealed string
	updated                     int64
}

// secrets returns org's secrets, encrypted.
func (s *Service) secrets(ctx context.Context, org string) ([]storedSecret, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT scope, target, name, sealed, updated FROM fleet_secrets WHERE org = $1 ORDER BY scope, target, name`, org)
	if err != nil {
		return nil, fmt.Errorf("secrets of %s: %w", org, err)
	}
	defer rows.Close()
	var out []storedSecret
	for rows.Next() {
		var x storedSecret
		if err := rows.Scan(&x.scope, &x.target, &x.name, &x.sealed, &x.updated); err != nil {
			return nil, fmt.Errorf("secrets of %s: %w", org, err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// sealFor returns a secret's content in the manifest of edge e: its value
// sealed for the edge's key. The same secret and key give the same
// content (kept in edge_secret_seals), so that the manifest's digest and
// version only change when one of them does.
func (s *Service) sealFor(ctx context.Context, e Edge, x storedSecret) (json.RawMessage, error) {
	source := uplink.PartDigest([]byte(x.sealed))
	var sealed string
	err := meta.Found(s.db.QueryRowContext(ctx, `SELECT sealed FROM edge_secret_seals WHERE edge = $1 AND name = $2 AND source = $3 AND edge_key = $4`,
		e.ID, x.name, source, e.PublicKey).Scan(&sealed))
	if errors.Is(err, meta.ErrNotFound) {
		if s.keyring == nil {
			return nil, fmt.Errorf("secret %s: the hub has no secrets key", x.name)
		}
		pub, perr := uplink.DecodePublicKey(e.PublicKey)
		if perr != nil {
			return nil, fmt.Errorf("secret %s for edge %s: %w", x.name, e.ID, perr)
		}
		plain, oerr := s.keyring.Open(x.sealed)
		if oerr != nil {
			return nil, fmt.Errorf("secret %s: %w (is this the hub's secrets key?)", x.name, oerr)
		}
		if sealed, err = uplink.SealFor(pub, plain); err != nil {
			return nil, err
		}
		// Two computations at once (the edge's request and a person's,
		// or two hubs) each seal: the first stored wins and both use it,
		// so that the manifest's digest does not change twice. A row of
		// another value or key is replaced.
		_, err = s.db.ExecContext(ctx, `INSERT INTO edge_secret_seals (edge, name, source, edge_key, sealed) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (edge, name) DO UPDATE SET source = excluded.source, edge_key = excluded.edge_key, sealed = excluded.sealed
			WHERE edge_secret_seals.source <> excluded.source OR edge_secret_seals.edge_key <> excluded.edge_key`,
			e.ID, x.name, source, e.PublicKey, sealed)
		if err == nil {
			err = s.db.QueryRowContext(ctx, `SELECT sealed FROM edge_secret_seals WHERE edge = $1 AND name = $2 AND source = $3 AND edge_key = $4`,
				e.ID, x.name, source, e.PublicKey).Scan(&sealed)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s for edge %s: %w", x.name, e.ID, err)
	}
	return json.Marshal(uplink.SealedSecret{Sealed: sealed})
}
