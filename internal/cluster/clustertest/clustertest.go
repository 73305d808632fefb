// Package clustertest starts NATS clusters with JetStream inside a test
// process: real servers on loopback, routed to each other.
package clustertest

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/molen-io/molen/internal/cluster"
)

// Cluster is a running NATS cluster of the test.
type Cluster struct {
	Nodes []*server.Server
	URLs  []string // the nodes' client URLs, in order
}

// Start starts n routed JetStream nodes on 127.0.0.1 (client ports chosen
// by the system), stopped when the test ends. It returns once each node
// accepts clients; replicas connecting (cluster.Connect) wait for the
// cluster's JetStream leader.
func Start(t testing.TB, n int, syncAlways bool) *Cluster {
	t.Helper()
	return StartTLS(t, n, syncAlways, nil)
}

// StartTLS starts n nodes as Start does; with pki, each with a certificate
// of its own from pki for its clients and routes, requiring certificates
// of pki of both.
func StartTLS(t testing.TB, n int, syncAlways bool, pki *PKI) *Cluster {
	t.Helper()
	// Route ports must be known before the nodes start: take free ones.
	routes := make([]string, n)
	for i := range routes {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		routes[i] = l.Addr().String()
		l.Close()
	}
	dir := t.TempDir()
	c := &Cluster{}
	for i := range n {
		node := cluster.Node{Name: fmt.Sprintf("n%d", i+1), Listen: "127.0.0.1:0", Dir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)), SyncAlways: syncAlways}
		if pki != nil {
			node.TLS = pki.Issue(t, node.Name)
		}
		if n > 1 {
			node.ClusterListen = routes[i]
			for j, r := range routes {
				if j != i {
					node.Routes = append(node.Routes, r)
				}
			}
		}
		s, err := cluster.StartNode(node, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		c.Nodes = append(c.Nodes, s)
		c.URLs = append(c.URLs, cluster.ClientURL(s))
	}
	return c
}
