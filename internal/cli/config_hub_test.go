//go:build !edgeonly

package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestHubPrintConfig: the passwords in the store's and the NATS servers'
// URLs and the OIDC client secret are masked; the hub does not start.
func TestHubPrintConfig(t *testing.T) {
	t.Setenv("MOLEN_STORE", "postgres://molen:s3cret@db.example:5432/molen")
	t.Setenv("MOLEN_OIDC_CLIENT_SECRET", "oidc-s3cret")
	t.Setenv("MOLEN_NATS", "nats://hub:n4ts-s3cret@nats-1:4222")
	var out, errOut bytes.Buffer
	if code := Main([]string{"hub", "--data", t.TempDir(), "--smtp-addr", "mail.example:587", "--smtp-from", "molen@example.org", "--print-config"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	got := out.String()
	for _, want := range []string{"store: postgres://molen:********@db.example:5432/molen  # env", "oidc-client-secret: '********'  # env",
		"smtp-addr: mail.example:587  # flag", "retention-raw: 90d  # default", "nats: [nats://hub:********@nats-1:4222]  # env"} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "s3cret") {
		t.Errorf("shows a secret:\n%s", got)
	}
}
