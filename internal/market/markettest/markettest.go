// Package markettest takes service packages into a marketplace for tests:
// signed with a new key registered to the provider, published, and
// (Released) through review.
package markettest

import (
	"testing"

	"github.com/molen-io/molen/internal/market"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/svcpack"
)

// Published signs archive with a new key registered to provider (an
// existing provider organisation) and publishes it: a draft.
func Published(t testing.TB, m *market.Service, provider string, archive []byte) market.Version {
	t.Helper()
	ctx := t.Context()
	pub, key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := sign.EncodePublicKey(pub)
	if _, err := m.AddKey(ctx, provider, "test-"+sign.KeyID(pub)[:8], string(pem), "usr_pub"); err != nil {
		t.Fatal(err)
	}
	env, _, err := svcpack.Sign(key, archive, provider)
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Publish(ctx, provider, "usr_pub", archive, env)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Act has as ("provider" or "platform") take action on v.
func Act(t testing.TB, m *market.Service, v market.Version, as, action string) market.Version {
	t.Helper()
	v, err := m.Act(t.Context(), as, v.Provider, v.Listing, v.Version, action, "", "usr_"+as)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Released publishes archive as Published does and takes it through
// review: the provider submits it, the platform releases it.
func Released(t testing.TB, m *market.Service, provider string, archive []byte) market.Version {
	t.Helper()
	v := Published(t, m, provider, archive)
	return Act(t, m, Act(t, m, v, "provider", "submit"), "platform", "release")
}
