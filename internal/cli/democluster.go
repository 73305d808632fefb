//go:build !edgeonly

package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/molen-io/molen/internal/cluster"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/market"
	"github.com/molen-io/molen/internal/uplink"
)

// The demo's cluster (molen demo --replicas 3, docs/cluster.md#demo): the
// hub's replicas run in the demo's process, each with an embedded NATS
// node of one JetStream cluster, and share one PostgreSQL and one data
// directory (the admin token, the secrets and marketplace keys, the
// releases and service packages; each NATS node keeps its own directory
// under nats/). The edge knows every replica, the second first: stopping
// that one shows the edge failing over while the web UI, on the first,
// keeps showing what any replica stored.

// demoMinReplicas is the least a cluster has: the uplink stream keeps three
// copies, on three NATS nodes.
const demoMinReplicas = 3

// checkReplicas checks --replicas and that a cluster has its shared store.
func (cfg DemoConfig) checkReplicas() error {
	switch {
	case cfg.Replicas < 0 || cfg.Replicas == 2:
		return fmt.Errorf("--replicas %d: 1 (one hub), or %d and more (a cluster: the uplink stream keeps three copies, on three NATS nodes)", cfg.Replicas, demoMinReplicas)
	case cfg.Replicas >= demoMinReplicas && cfg.Store == "":
		return fmt.Errorf("--replicas %d: a cluster's replicas share PostgreSQL: give --store postgres://… (or $MOLEN_STORE)", cfg.Replicas)
	}
	return nil
}

// replicaName is the name of the i-th replica (from 0): hub-1, hub-2, …
func replicaName(i int) string { return "hub-" + strconv.Itoa(i+1) }

// startDemoHubs starts the demo's hub: one with base, or cfg.Replicas
// replicas of base at once (a replica's start waits for a majority of the
// NATS nodes). It returns each replica's config for StartReplica.
func startDemoHubs(ctx context.Context, cfg DemoConfig, base hub.Config) ([]*hub.Hub, []hub.Config, error) {
	if cfg.Replicas < demoMinReplicas {
		h, err := hub.Start(ctx, base)
		if err != nil {
			return nil, nil, err
		}
		return []*hub.Hub{h}, []hub.Config{base}, nil
	}
	// Replicas starting together would each make the keys.
	if err := demoClusterKeys(base.DataDir); err != nil {
		return nil, nil, err
	}
	n := cfg.Replicas
	clients, err := freeAddrs(n)
	if err != nil {
		return nil, nil, err
	}
	routes, err := freeAddrs(n)
	if err != nil {
		return nil, nil, err
	}
	cfgs := make([]hub.Config, n)
	for i := range n {
		name := replicaName(i)
		node := cluster.Node{Name: name, Listen: clients[i], ClusterListen: routes[i],
			Dir: filepath.Join(base.DataDir, "nats", name), SyncAlways: true}
		var others []string
		for j := range n {
			if j != i {
				node.Routes = append(node.Routes, routes[j])
				others = append(others, "nats://"+clients[j])
			}
		}
		c := base
		c.Listen = replicaListen(base.Listen, i)
		c.Log = base.Log.With("replica", name)
		c.Cluster = &hub.Cluster{Node: &node, NATS: others, Replica: name}
		cfgs[i] = c
	}
	hubs := make([]*hub.Hub, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if hubs[i], errs[i] = hub.Start(ctx, cfgs[i]); errs[i] != nil {
				errs[i] = fmt.Errorf("%s: %w", replicaName(i), errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, h := range hubs {
			if h != nil {
				h.Close()
			}
		}
		return nil, nil, err
	}
	return hubs, cfgs, nil
}

// demoClusterKeys makes the secrets key and the marketplace key in dir if
// they are missing, before the replicas that share them start.
func demoClusterKeys(dir string) error {
	if _, err := market.LoadKey(filepath.Join(dir, hub.MarketKeyFile)); err != nil {
		return err
	}
	file := filepath.Join(dir, hub.SecretsKeyFile)
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	k, err := uplink.NewKeyring()
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, []byte(k.String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("secrets key: %w", err)
	}
	return nil
}

// freeAddrs returns n free ports on 127.0.0.1: a NATS node's routes must
// be known before its peers start.
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, l.Addr().String())
		l.Close()
	}
	return addrs, nil
}

// replicaListen is where the i-th replica listens: the next ports after
// the first replica's (8080, 8081, 8082), a free one where that is taken.
func replicaListen(listen string, i int) string {
	host, port, err := net.SplitHostPort(listen)
	p, perr := strconv.Atoi(port)
	if i == 0 || err != nil || perr != nil || p == 0 {
		return listen
	}
	return freeListen(net.JoinHostPort(host, strconv.Itoa(p+i)))
}

// edgeHubURL is the edge's --hub: every replica's address, the second
// replica first (stopping it shows the edge failing over; the first
// runs the demo's own jobs).
func edgeHubURL(hubs []*hub.Hub) string {
	if len(hubs) == 1 {
		return hubs[0].URL()
	}
	urls := make([]string, 0, len(hubs))
	for _, h := range append(hubs[1:], hubs[0]) {
		urls = append(urls, h.URL())
	}
	return strings.Join(urls, ",")
}

// printReplicas tells where the replicas are and how to stop one.
func (d *Demo) printReplicas(w io.Writer, schema string) {
	if len(d.Replicas) < 2 {
		return
	}
	fmt.Fprintf(w, "\nThe hub is %d replicas in this process, each with a node of one NATS JetStream\ncluster, sharing PostgreSQL (schema %s; docs/cluster.md):\n", len(d.Replicas), schema)
	for i, h := range d.Replicas {
		role := "the web UI; the demo's own jobs"
		if i == 1 {
			role = "the edge sends here first"
		}
		fmt.Fprintf(w, "  %s  %s  NATS %s  (%s)\n", replicaName(i), h.URL(), d.replicaCfgs[i].Cluster.Node.Listen, role)
	}
	fmt.Fprintf(w, "Type a replica's number (2–%d) and Enter to stop it, and again to start it: the edge\ngoes on with the next replica and the web UI keeps showing live data.\n", len(d.Replicas))
}

// StopReplica stops replica i (from 0; not the first, which runs the
// demo's own jobs): its HTTP server, its consumers and its NATS node.
func (d *Demo) StopReplica(i int) error {
	d.replicaMu.Lock()
	defer d.replicaMu.Unlock()
	if i < 1 || i >= len(d.Replicas) {
		return fmt.Errorf("replica %d: want 2–%d", i+1, len(d.Replicas))
	}
	if d.Replicas[i] == nil {
		return fmt.Errorf("%s is stopped already", replicaName(i))
	}
	err := d.Replicas[i].Close()
	d.Replicas[i] = nil
	return err
}

// StartReplica starts replica i again, on the address it had.
func (d *Demo) StartReplica(ctx context.Context, i int) error {
	d.replicaMu.Lock()
	defer d.replicaMu.Unlock()
	if i < 1 || i >= len(d.Replicas) {
		return fmt.Errorf("replica %d: want 2–%d", i+1, len(d.Replicas))
	}
	if d.closed {
		return errors.New("the demo is stopping")
	}
	if d.Replicas[i] != nil {
		return fmt.Errorf("%s runs already", replicaName(i))
	}
	c := d.replicaCfgs[i]
	c.Listen = strings.TrimPrefix(d.replicaURLs[i], "http://")
	h, err := hub.Start(ctx, c)
	if err != nil {
		return fmt.Errorf("start %s: %w", replicaName(i), err)
	}
	d.Replicas[i] = h
	return nil
}

// controlReplicas reads replica numbers from r, one a line, and stops or
// starts that replica, saying so on w, until r ends.
func (d *Demo) controlReplicas(ctx context.Context, r io.Reader, w io.Writer) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		n, err := strconv.Atoi(line)
		if err != nil || n < 2 || n > len(d.Replicas) {
			fmt.Fprintf(w, "%q: type a replica's number, 2–%d, and Enter\n", line, len(d.Replicas))
			continue
		}
		d.replicaMu.Lock()
		running := d.Replicas[n-1] != nil
		d.replicaMu.Unlock()
		if running {
			err = d.StopReplica(n - 1)
			if err == nil {
				fmt.Fprintf(w, "%s stopped (type %d again to start it)\n", replicaName(n-1), n)
			}
		} else if err = d.StartReplica(ctx, n-1); err == nil {
			fmt.Fprintf(w, "%s runs again at %s\n", replicaName(n-1), d.replicaURLs[n-1])
		}
		if err != nil {
			fmt.Fprintln(w, err)
		}
	}
}

// closeReplicas stops the replicas still running, the first last.
func (d *Demo) closeReplicas() error {
	d.replicaMu.Lock()
	defer d.replicaMu.Unlock()
	d.closed = true
	var errs []error
	for i := len(d.Replicas) - 1; i >= 0; i-- {
		if d.Replicas[i] != nil {
			errs = append(errs, d.Replicas[i].Close())
			d.Replicas[i] = nil
		}
	}
	return errors.Join(errs...)
}
