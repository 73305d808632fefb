//go:build !edgeonly

package cli

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/logtest"
	"github.com/molen-io/molen/internal/meta/metatest"
)

// TestDemoCluster starts molen demo --replicas 3 on PostgreSQL: the
// simulated factory's points are stored through the cluster; the replica
// the edge sends to stops, and points keep being stored through the
// others; started again, it serves again.
func TestDemoCluster(t *testing.T) {
	dsn := metatest.DSN(t)
	schema := metatest.Schema(t, dsn)
	var out logtest.Buffer
	d, err := StartDemo(t.Context(), DemoConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Seed: 1, Rate: 5,
		Replicas: 3, Store: dsn, StoreSchema: schema}, testGlobals(&out))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(d.Replicas) != 3 {
		t.Fatalf("%d replicas, want 3", len(d.Replicas))
	}
	for i, h := range d.Replicas {
		if !strings.Contains(out.String(), replicaName(i)+"  "+h.URL()) {
			t.Errorf("the demo does not print %s's address %s:\n%s", replicaName(i), h.URL(), out.String())
		}
	}
	if got := d.Edge.Status().Hub.URL; !strings.HasPrefix(got, d.Replicas[1].URL()+",") || strings.Count(got, ",") != 2 {
		t.Errorf("edge's hub %q: want the three replicas, hub-2 first", got)
	}
	waitWithin(t, time.Minute, "points stored through the cluster", func() bool { return storedByReplicas(t, d) > 100 })

	stopped := time.Now()
	if err := d.StopReplica(1); err != nil {
		t.Fatal(err)
	}
	before := storedByReplicas(t, d)
	waitWithin(t, time.Minute, "the edge to forward to another replica", func() bool {
		lc := d.Edge.Status().Hub.LastContact
		return lc != nil && lc.After(stopped)
	})
	// Reported, not judged: how long the edge took to send elsewhere.
	t.Logf("the edge forwarded to another replica %v after hub-2 stopped", d.Edge.Status().Hub.LastContact.Sub(stopped).Round(time.Millisecond))
	waitWithin(t, time.Minute, "points stored through hub-1 and hub-3", func() bool { return storedByReplicas(t, d) > before+100 })
	if _, err := http.Get(d.replicaURLs[1] + "/healthz"); err == nil {
		t.Errorf("hub-2 answers after it stopped")
	}

	if err := d.StartReplica(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(d.Replicas[1].URL() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("hub-2 started again: %v %v", resp, err)
	}
	resp.Body.Close()
}

// storedByReplicas sums molen_hub_points_stored_total, the points each
// running replica's consumers stored.
func storedByReplicas(t *testing.T, d *Demo) float64 {
	t.Helper()
	d.replicaMu.Lock()
	var urls []string
	for _, h := range d.Replicas {
		if h != nil {
			urls = append(urls, h.URL())
		}
	}
	d.replicaMu.Unlock()
	var sum float64
	for _, u := range urls {
		resp, err := http.Get(u + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			name, value, ok := strings.Cut(sc.Text(), " ")
			if ok && (name == "molen_hub_points_stored_total" || strings.HasPrefix(name, "molen_hub_points_stored_total{")) {
				v, err := strconv.ParseFloat(value, 64)
				if err != nil {
					t.Fatalf("%s: %v", sc.Text(), err)
				}
				sum += v
			}
		}
	}
	return sum
}

// TestDemoReplicasNeedStore: a cluster without its shared store, or of
// two replicas, is refused with a reason.
func TestDemoReplicasNeedStore(t *testing.T) {
	t.Setenv("MOLEN_STORE", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--replicas", "3"}, "give --store postgres://… (or $MOLEN_STORE)"},
		{[]string{"demo", "--replicas", "2", "--store", "postgres://x@127.0.0.1:1/x"}, "--replicas 2: 1 (one hub), or 3 and more"},
	} {
		var stderr bytes.Buffer
		if code := Main(append(tc.args, "--data", t.TempDir()), io.Discard, &stderr); code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, %q; want an error with %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
