package opcua_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/connector/opcua"
	"github.com/molen-io/molen/internal/connector/opcua/opcuatest"
	"github.com/molen-io/molen/internal/logtest"
)

// TestServerCertificateApproval: with pki_dir, an input that meets a server
// certificate it does not trust saves it in rejected/, says so (status,
// log: where the file is, its thumbprint) and does not connect; once an
// operator moved the file to trusted/, the next attempt trusts it and goes
// on to open the secure channel. (The test server cannot open one, see
// opcuatest.Options.Security: the test ends at the trust check.) The
// edge's credentials are those `molen opcua cert` writes.
func TestServerCertificateApproval(t *testing.T) {
	s := newServer(t, opcuatest.Options{Security: true})
	creds := writeCredentials(t)
	cfg := fastConfig(s, opcua.ModeSubscribe)
	cfg.SecurityMode = "SignAndEncrypt"
	cfg.PKIDir = creds.dir
	cfg.Timeout = 200 * time.Millisecond // the test server never answers a secure channel
	logs := &logtest.Buffer{}
	in, err := opcua.New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r := &running{in: in, sink: connectortest.NewSink()}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, r.sink) }()
	defer func() { cancel(); <-done }()

	thumb := opcua.Thumbprint(s.Certificate())
	st := r.waitFor(t, "the server's certificate saved for approval", func(st connector.Status) bool {
		return st.PeerCertificate != nil && st.PeerCertificate.File != "" && st.State == connector.Disconnected
	})
	pc := st.PeerCertificate
	if pc.SHA1 != thumb || pc.Trusted || filepath.Dir(pc.File) != filepath.Join(creds.dir, opcua.RejectedDir) {
		t.Errorf("peer certificate %+v: want SHA-1 %s, not trusted, saved in %s", pc, thumb, filepath.Join(creds.dir, opcua.RejectedDir))
	}
	if b, err := os.ReadFile(pc.File); err != nil || !bytes.Equal(b, s.Certificate()) {
		t.Errorf("saved file %s: %v; want the server's certificate", pc.File, err)
	}
	for _, want := range []string{"not trusted", thumb, pc.File, filepath.Join(creds.dir, opcua.TrustedDir)} {
		if !strings.Contains(st.LastError, want) {
			t.Errorf("last_error %q does not say %q", st.LastError, want)
		}
	}
	if st.Connects != 0 {
		t.Errorf("connects %d before the certificate is trusted, want 0", st.Connects)
	}
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, pc.File) {
		t.Errorf("log does not warn with the saved file:\n%s", l)
	}

	// The operator checked the thumbprint against the server's and
	// approves it.
	if err := os.Rename(pc.File, filepath.Join(creds.dir, opcua.TrustedDir, filepath.Base(pc.File))); err != nil {
		t.Fatal(err)
	}
	st = r.waitFor(t, "the certificate trusted", func(st connector.Status) bool {
		return st.PeerCertificate != nil && st.PeerCertificate.Trusted
	})
	if pc := st.PeerCertificate; pc.SHA1 != thumb || pc.File != "" {
		t.Errorf("peer certificate %+v: want SHA-1 %s, no file", pc, thumb)
	}
	if entries, _ := os.ReadDir(filepath.Join(creds.dir, opcua.RejectedDir)); len(entries) != 0 {
		t.Errorf("rejected/ holds %d files after the approval, want none", len(entries))
	}
	st = r.waitFor(t, "an attempt past the trust check", func(st connector.Status) bool {
		return st.LastError != "" && !strings.Contains(st.LastError, "not trusted")
	})
	if !strings.HasPrefix(st.LastError, "connect: ") {
		t.Errorf("last_error %q: want the secure connection's failure", st.LastError)
	}
}

// TestSecurityOffered: the input picks the endpoint of its mode and policy
// and checks the server's certificate, pinned in
// trusted_server_certificates, or says which it is (thumbprint) when it is
// not trusted.
func TestSecurityOffered(t *testing.T) {
	s := newServer(t, opcuatest.Options{Security: true})
	creds := writeCredentials(t)
	pinned := filepath.Join(t.TempDir(), "server.der")
	if err := os.WriteFile(pinned, s.Certificate(), 0o600); err != nil {
		t.Fatal(err)
	}
	thumb := opcua.Thumbprint(s.Certificate())
	for _, tt := range []struct {
		mode    string
		trusted string
	}{{"Sign", pinned}, {"SignAndEncrypt", pinned}, {"SignAndEncrypt", creds.certDER}} {
		t.Run(tt.mode+" "+filepath.Base(tt.trusted), func(t *testing.T) {
			cfg := fastConfig(s, opcua.ModePoll)
			cfg.SecurityMode = tt.mode
			cfg.Certificate, cfg.PrivateKey = creds.cert, creds.key
			cfg.TrustedServerCertificates = []string{tt.trusted}
			cfg.Timeout = 200 * time.Millisecond
			r := run(t, cfg)
			st := r.waitFor(t, "the server's certificate checked", func(st connector.Status) bool {
				return st.PeerCertificate != nil && st.LastError != ""
			})
			pc := st.PeerCertificate
			if pc.SHA1 != thumb || pc.Trusted != (tt.trusted == pinned) || pc.File != "" {
				t.Errorf("peer certificate %+v: want SHA-1 %s, trusted %v", pc, thumb, tt.trusted == pinned)
			}
			if tt.trusted != pinned && (!strings.Contains(st.LastError, thumb) || !strings.Contains(st.LastError, "trusted_server_certificates")) {
				t.Errorf("last_error %q: want the thumbprint and where to trust it", st.LastError)
			}
		})
	}
}
