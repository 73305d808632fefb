package fleet

import (
	"context"
	"time"

	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/store"
)

// EnrollTTL is how long a one-time enrollment token stays valid.
const EnrollTTL = 24 * time.Hour

// CreateEdge registers a new edge of org and returns it with its one-time
// enrollment token (valid for EnrollTTL). Only the token's hash is stored.
func CreateEdge(ctx context.Context, m store.Meta, org, name string, now time.Time) (store.Edge, string, error) {
	token := auth.NewSecret(auth.PrefixEnroll)
	e := store.Edge{
		ID:            "edge-" + auth.NewSecret("")[:12],
		Org:           org,
		Name:          name,
		EnrollHash:    auth.Hash(token),
		EnrollExpires: now.Add(EnrollTTL),
		Created:       now,
	}
	if err := m.CreateEdge(ctx, e); err != nil {
		return store.Edge{}, "", err
	}
	return e, token, nil
}
