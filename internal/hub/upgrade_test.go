package hub_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/store/postgres"
	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

// fixture is testdata/before-meta: a data directory made by the release
// that kept metadata in the time-series store (see its README).
const fixture = "testdata/before-meta"

// fixtureNow is an hour after the fixture was made: its enrollment token
// is still valid.
var fixtureNow = time.Date(2026, 12, 7, 0, 57, 0, 0, time.UTC)

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixture, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestUpgradeEmbedded starts the hub on a data directory of the release
// before the metadata layer: it adopts that release's organisations,
// tokens, edges and retention into meta.db, once.
func TestUpgradeEmbedded(t *testing.T) {
	checkUpgrade(t, hub.Config{DataDir: copyFixture(t)})
}

// copyFixture copies the fixture's store file and admin token into a new
// directory: SQLite writes beside a database even to read it.
func copyFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{hub.StoreFile, hub.AdminTokenFile} {
		b, err := os.ReadFile(filepath.Join(fixture, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestUpgradePostgres starts the hub on a PostgreSQL schema laid out as the
// release before the metadata layer made it, with the fixture's rows: the
// metadata layer adopts the tables in place.
func TestUpgradePostgres(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	ctx := t.Context()
	// The time-series tables are as that release made them; its metadata
	// tables were made by the same migrations, in these words.
	st, err := postgres.Open(ctx, dsn, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	s := pgx.Identifier{schema}.Sanitize()
	oldDDL := strings.ReplaceAll(`
CREATE TABLE {s}.orgs (
	id      text COLLATE "C" PRIMARY KEY,
	name    text NOT NULL,
	kind    text NOT NULL,
	created bigint NOT NULL
);
CREATE TABLE {s}.tokens (
	hash    text COLLATE "C" PRIMARY KEY,
	org     text COLLATE "C" NOT NULL,
	role    text NOT NULL,
	name    text NOT NULL,
	created bigint NOT NULL
);
CREATE TABLE {s}.edges (
	id             text COLLATE "C" PRIMARY KEY,
	org            text COLLATE "C" NOT NULL,
	name           text NOT NULL,
	enroll_hash    text COLLATE "C" NOT NULL,
	enroll_expires bigint NOT NULL,
	cred_hash      text COLLATE "C" NOT NULL,
	revoked        boolean NOT NULL,
	created        bigint NOT NULL,
	enrolled       bigint NOT NULL
);
CREATE INDEX edges_by_org ON {s}.edges (org, id);
CREATE UNIQUE INDEX edges_by_enroll ON {s}.edges (enroll_hash) WHERE enroll_hash <> '';
CREATE UNIQUE INDEX edges_by_cred ON {s}.edges (cred_hash) WHERE cred_hash <> '';
CREATE TABLE {s}.retention (
	org    text COLLATE "C" PRIMARY KEY,
	raw    bigint NOT NULL,
	minute bigint NOT NULL,
	hour   bigint NOT NULL
);`, "{s}", s)
	if _, err := conn.Exec(ctx, oldDDL); err != nil {
		t.Fatal(err)
	}
	// The rows: those of the fixture's SQLite file.
	old, err := sql.Open("sqlite", filepath.Join(copyFixture(t), hub.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	for _, table := range []struct {
		name string
		cols int
	}{{"orgs", 4}, {"tokens", 5}, {"edges", 9}, {"retention", 4}} {
		rows, err := old.QueryContext(ctx, `SELECT * FROM `+table.name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, table.cols)
			ptrs := make([]any, table.cols)
			params := make([]string, table.cols)
			for i := range vals {
				ptrs[i], params[i] = &vals[i], fmt.Sprintf("$%d", i+1)
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			if table.name == "edges" {
				vals[6] = vals[6] != int64(0) // revoked: SQLite's 0/1, PostgreSQL's boolean
			}
			if _, err := conn.Exec(ctx, `INSERT INTO `+s+`.`+table.name+` VALUES (`+strings.Join(params, ", ")+`)`, vals...); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	checkUpgrade(t, hub.Config{DataDir: t.TempDir(), Store: dsn, StoreSchema: schema})
}

// checkUpgrade starts a hub on the fixture's data and checks that nothing
// was lost: the admin token, the edges and their credentials (the revoked
// one still revoked), an unused enrollment token, the retention; then
// restarts it and checks that what changed since stays.
func checkUpgrade(t *testing.T, cfg hub.Config) {
	t.Helper()
	ctx := t.Context()
	var out bytes.Buffer
	cfg.Listen, cfg.Out, cfg.Now = "127.0.0.1:0", &out, func() time.Time { return fixtureNow }
	h, err := hub.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { h.Close() }()
	if out.Len() > 0 {
		t.Errorf("the upgraded hub made a new admin token:\n%s", out.String())
	}
	c := client{t: t, url: h.URL()}
	admin := readFixture(t, "admin-token")
	if code, body := c.do("GET", "/api/v1/whoami", admin, ""); code != 200 || body["org"] != "default" || body["role"] != "admin" || body["scopes"] != "admin" {
		t.Fatalf("the admin token after the upgrade: %d %v", code, body)
	}
	// The earlier release's tokens are service accounts with IDs and
	// scopes; its organisation hangs below the platform.
	code, toks := c.do("GET", "/api/v1/tokens", admin, "")
	if code != 200 || len(toks["tokens"].([]any)) == 0 {
		t.Fatalf("tokens after the upgrade: %d %v", code, toks)
	}
	for _, tk := range toks["tokens"].([]any) {
		tk := tk.(map[string]any)
		if !strings.HasPrefix(tk["id"].(string), "tok_") || tk["active"] != true || tk["scopes"] == "" {
			t.Errorf("an upgraded token: %v", tk)
		}
	}
	if code, orgs := c.do("GET", "/api/v1/orgs", admin, ""); code != 200 || len(orgs["orgs"].([]any)) != 1 ||
		orgs["orgs"].([]any)[0].(map[string]any)["parent"] != "platform" {
		t.Errorf("organisations after the upgrade: %d %v", code, orgs)
	}
	// The admin token still administers: it makes a token of its own kind.
	if code, body := c.do("POST", "/api/v1/tokens", admin, `{"name":"after upgrade","scopes":"read","service_account":true,"role":"viewer"}`); code != 201 {
		t.Errorf("a new token by the upgraded admin token: %d %v", code, body)
	}
	code, list := c.do("GET", "/api/v1/edges", admin, "")
	if code != 200 {
		t.Fatalf("edges: %d %v", code, list)
	}
	byName := map[string]map[string]any{}
	for _, e := range list["edges"].([]any) {
		e := e.(map[string]any)
		byName[e["name"].(string)] = e
	}
	if len(byName) != 3 || byName["old-line"]["revoked"] != true || byName["press-1"]["revoked"] != false ||
		byName["press-1"]["enrolled"] == nil || byName["not-yet"]["enroll_expires"] == nil {
		t.Errorf("edges after the upgrade: %v", list)
	}
	if code, body := c.do("GET", "/api/v1/retention", admin, ""); code != 200 || body["default"] != false || body["raw_days"] != float64(30) || body["minute_days"] != float64(365) || body["hour"] != "forever" {
		t.Errorf("retention after the upgrade: %d %v", code, body)
	}
	send := func(cred string, seq uint64) error {
		pts := []uns.Point{{Series: "upgrade/line/press/count", TS: fixtureNow.UnixNano() + int64(seq), Value: uns.Int(int64(seq))}}
		b := uplink.Batch{Stream: "points/upgrade", Records: []uplink.RawRecord{{Seq: seq, Data: uplink.EncodePoints(nil, pts)}}}
		_, err := (&uplink.Client{URL: h.URL(), Credential: cred}).Send(ctx, b)
		return err
	}
	if err := send(readFixture(t, "credential"), 1); err != nil {
		t.Errorf("the enrolled edge's uplink after the upgrade: %v", err)
	}
	if err := send(readFixture(t, "revoked-credential"), 1); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("the revoked edge's uplink after the upgrade: %v, want refused as revoked", err)
	}
	en, err := (&uplink.Client{URL: h.URL()}).Enroll(ctx, readFixture(t, "enroll-token"), "")
	if err != nil || en.Name != "not-yet" {
		t.Fatalf("enrollment with the earlier release's token: %+v, %v", en, err)
	}

	// Restart: the adoption does not run again (it would bring back the
	// enrollment token just used), and everything is still there.
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if h, err = hub.Start(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	c.url = h.URL()
	if err := send(en.Credential, 1); err != nil {
		t.Errorf("the newly enrolled edge after a restart: %v", err)
	}
	if _, err := (&uplink.Client{URL: h.URL()}).Enroll(ctx, readFixture(t, "enroll-token"), ""); err == nil {
		t.Error("the used enrollment token works again after a restart")
	}
	if code, body := c.do("GET", "/api/v1/latest?prefix=upgrade", admin, ""); code != 200 || len(body["points"].([]any)) != 1 {
		t.Errorf("points sent after the upgrade: %d %v", code, body)
	}
	if out.Len() > 0 {
		t.Errorf("a restarted hub made a new admin token:\n%s", out.String())
	}
}
