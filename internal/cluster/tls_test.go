package cluster_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/molen-io/molen/internal/cluster"
	"github.com/molen-io/molen/internal/cluster/clustertest"
)

// TestTLS runs three NATS nodes with TLS on their routes and for their
// clients, each requiring a certificate of the cluster's CA: a replica
// with one stores a message on a stream of three replicas (which needs
// the routes) and reads it back through another node; clients that do not
// trust the nodes' CA, or have no certificate the nodes trust, are
// refused at once with an error that says so; and no log line holds a
// private key.
func TestTLS(t *testing.T) {
	pki := clustertest.NewPKI(t)
	nc := clustertest.StartTLS(t, 3, false, pki)
	for _, u := range nc.URLs {
		if !strings.HasPrefix(u, "tls://") {
			t.Fatalf("node URL %s: want tls://", u)
		}
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	replica := pki.Issue(t, "replica")

	// Bounded, as below, so that a cluster whose routes fail fails the test.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	conn, js, err := cluster.Client{URLs: nc.URLs[:1], Name: "replica", TLS: replica}.Connect(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "TLS", Subjects: []string{"tls.>"}, Replicas: 3}); err != nil {
		t.Fatalf("a stream on three nodes (over the routes' TLS): %v", err)
	}
	if _, err := js.Publish(t.Context(), "tls.batch", []byte("batch 1")); err != nil {
		t.Fatal(err)
	}
	other, ojs, err := cluster.Client{URLs: nc.URLs[2:], Name: "other", TLS: pki.Issue(t, "other")}.Connect(t.Context(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	s, err := ojs.Stream(t.Context(), "TLS")
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := s.GetLastMsgForSubject(t.Context(), "tls.batch"); err != nil || string(msg.Data) != "batch 1" {
		t.Fatalf("the message through another node: %v, %v", msg, err)
	}

	stranger := clustertest.NewPKI(t)
	noCert := replica
	noCert.Cert, noCert.Key = "", ""
	for _, c := range []struct {
		name string
		tls  cluster.TLSFiles
		want string
	}{
		{"another CA", stranger.Issue(t, "replica"), "certificate signed by unknown authority"},
		{"trusting the nodes but with a certificate of another CA", cluster.TLSFiles{Cert: stranger.Issue(t, "r").Cert, Key: stranger.Issue(t, "r").Key, CA: pki.CA()}, "remote error: tls"},
		{"no certificate", noCert, "remote error: tls"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Bounded so that a refusal not recognised fails the test
			// (the wait would otherwise go on for ever), not to time it.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			conn, _, err := cluster.Client{URLs: nc.URLs, Name: "stranger", TLS: c.tls}.Connect(ctx, log)
			if err == nil {
				conn.Close()
				t.Fatal("connected")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "TLS") {
				t.Errorf("err = %v, want one about TLS saying %q", err, c.want)
			}
		})
	}

	key, err := os.ReadFile(replica.Key)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Split(string(key), "\n")[1] // the first line of the key's base64
	if strings.Contains(logs.String(), body) {
		t.Errorf("the log holds the replica's private key")
	}
}

// TestNodeTLSValidate: a node's TLS needs its certificate, key and CA.
func TestNodeTLSValidate(t *testing.T) {
	base := cluster.Node{Name: "n1", Listen: "127.0.0.1:0", Dir: t.TempDir()}
	for _, c := range []struct {
		tls  cluster.TLSFiles
		want string
	}{
		{cluster.TLSFiles{Cert: "n.crt", CA: "ca.crt"}, "needs its key"},
		{cluster.TLSFiles{Cert: "n.crt", Key: "n.key"}, "cluster.node.tls.ca: required"},
		{cluster.TLSFiles{CA: "ca.crt"}, "a CA without the node's certificate"},
	} {
		n := base
		n.TLS = c.tls
		if err := n.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.tls, err, c.want)
		}
	}
}
