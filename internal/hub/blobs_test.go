package hub_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/market"
	"github.com/molen-io/molen/internal/market/markettest"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/svcpack"
	"github.com/molen-io/molen/internal/svcpack/svcpacktest"
	"github.com/molen-io/molen/internal/uplink"
)

// TestReplicasShareUploads: two hubs on one PostgreSQL, each with its own
// data directory, as the replicas of molen hub --cluster. A service
// package published through A is read (its listing's terms, an install)
// and downloaded by an edge through B; a release uploaded through A is
// downloaded through B; a release whose shared copy changed is refused,
// not served.
func TestReplicasShareUploads(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	ctx := t.Context()
	relPub, relKey, _ := sign.GenerateKey()
	var (
		hubs [2]*hub.Hub
		dirs = [2]string{t.TempDir(), t.TempDir()}
	)
	for i := range hubs {
		h, err := hub.Start(ctx, hub.Config{DataDir: dirs[i], Listen: "127.0.0.1:0", Store: dsn, StoreSchema: schema,
			ReleaseKeys: []ed25519.PublicKey{relPub}, Out: io.Discard})
		if err != nil {
			t.Fatalf("hub %d: %v", i, err)
		}
		defer h.Close()
		hubs[i] = h
	}
	a, b := hubs[0], hubs[1]

	archive, _, err := svcpack.Pack(svcpacktest.SPC(t, svcpacktest.StandIn, nil))
	if err != nil {
		t.Fatal(err)
	}
	v := markettest.Released(t, a.Market(), "tools", archive)
	want, err := a.Market().Listing(ctx, "tools", false, v.Listing)
	if err != nil || want.Terms == "" {
		t.Fatalf("the listing through A: terms %q, %v", want.Terms, err)
	}
	if got, err := b.Market().Listing(ctx, "tools", false, v.Listing); err != nil || got.Terms != want.Terms {
		t.Errorf("the listing through B: terms %q, %v; want %q", got.Terms, err, want.Terms)
	}

	id, token, err := b.CreateEdge(ctx, "press")
	if err != nil {
		t.Fatal(err)
	}
	en, err := (&uplink.Client{URL: b.URL()}).Enroll(ctx, token, "")
	if err != nil {
		t.Fatal(err)
	}
	edge := &uplink.Client{URL: b.URL(), Credential: en.Credential}
	if _, err := b.Market().Installed(ctx, hub.DefaultOrg, "usr_eng", market.InstallRequest{Service: v.Listing, Scope: "edge", Target: id, AcceptTerms: true}, false); err != nil {
		t.Fatalf("install through B: %v", err)
	}
	var got bytes.Buffer
	if sum, err := edge.Download(ctx, uplink.ServicePath+v.SHA256, &got, svcpack.MaxArchive); err != nil || sum != v.SHA256 {
		t.Errorf("the edge downloads the package through B: %s, %v; want %s", sum, err, v.SHA256)
	}

	upload := func(version string) string {
		t.Helper()
		bin := []byte("molen " + version)
		s := sha256.Sum256(bin)
		env, err := sign.SignStatement(relKey, "molen", hex.EncodeToString(s[:]), uplink.ReleasePredicate,
			uplink.Release{Version: version, OS: "linux", Arch: runtime.GOARCH})
		if err != nil {
			t.Fatal(err)
		}
		rel, err := a.Fleet().AddRelease(ctx, env, bytes.NewReader(bin), "usr_ops")
		if err != nil {
			t.Fatalf("upload %s through A: %v", version, err)
		}
		return rel.SHA256
	}
	rel := upload("1.5.0")
	if sum, err := edge.Download(ctx, "/api/v1/edge/releases/"+rel, io.Discard, 1<<20); err != nil || sum != rel {
		t.Errorf("the edge downloads the release through B: %s, %v; want %s", sum, err, rel)
	}

	changed := upload("1.6.0")
	db := metatest.Postgres(t, dsn, schema)
	if _, err := db.ExecContext(ctx, `UPDATE blobs SET bytes = $1 WHERE sha256 = $2`, []byte("not molen"), changed); err != nil {
		t.Fatal(err)
	}
	_, err = edge.Download(ctx, "/api/v1/edge/releases/"+changed, io.Discard, 1<<20)
	if se := (*uplink.StatusError)(nil); !errors.As(err, &se) || se.Code != 500 {
		t.Errorf("a release whose shared copy changed, through B: %v; want refused (500)", err)
	}
	if _, err := os.Stat(filepath.Join(dirs[1], "releases", changed)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("B kept the changed copy as its file: %v", err)
	}
}
