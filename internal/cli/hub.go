//go:build !edgeonly

package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/cluster"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/ingest"
	"github.com/molen-io/molen/internal/quota"
	"github.com/molen-io/molen/internal/store"
)

func newHub(g *globals) *cobra.Command {
	var cfg hub.Config
	var otelEndpoint string
	var startPprof func(context.Context, *slog.Logger) error
	cmd := &cobra.Command{
		Use:   "hub",
		Short: "Run a molen hub: storage, API, web UI and the uplink for edges",
		Long: `Run a molen hub. It receives data only from enrolled edges, stores it in
embedded storage under --data, and serves the API (/api/v1/), the web UI (/),
/healthz and /metrics on --listen.

On first start it creates an admin API token, prints it and writes it to
<data>/admin-token. Register an edge with:

  curl -X POST -H "Authorization: Bearer $(cat <data>/admin-token)" \
       -d '{"name":"line-1"}' http://<listen>/api/v1/edges

and start the edge with the enroll_token from the answer.

Retention: every hour the hub deletes raw points older than --retention-raw,
minute rollups older than --retention-minute and hour rollups older than
--retention-hour (0 or forever: keep), for each organisation that has not
set its own with PUT /api/v1/retention. Aggregates at 1-minute and 1-hour
steps still cover the range whose raw points are gone (on either storage).

Cluster (docs/cluster.md): with --cluster the hub is one replica of several
on one PostgreSQL (--store) and a NATS JetStream cluster: it answers an
edge's batch once the batch is on the replicated stream, and its consumers
store the stream's batches exactly once. Give the NATS servers with --nats,
or run one node of the NATS cluster inside the hub with --nats-listen,
--nats-cluster-listen and --nats-routes. TLS between the nodes and to
them: --nats-tls-cert, --nats-tls-key and --nats-tls-ca for the embedded
node, --nats-ca, --nats-cert and --nats-key for the replica's connection.

Notifications (docs/notifications.md): the hub sends its organisations'
alarm messages by e-mail through --smtp-addr, and by webhook and MQTT to
what their channels name, retrying with back-off, whether or not anyone
has the web UI open.

` + configHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg.Log, cfg.Out = log, g.stdout
			log.Info("molen hub", "version", Version())
			stopTraces, err := startTraces(cmd.Context(), otelEndpoint, "molen-hub", log)
			if err != nil {
				return err
			}
			defer stopTraces()
			if err := startPprof(cmd.Context(), log); err != nil {
				return err
			}
			h, err := hub.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			<-cmd.Context().Done()
			log.Info("stopping hub")
			return h.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&otelEndpoint, "otel-endpoint", "", otelHelp)
	var oidc auth.OIDCProvider
	var releaseKeys []string
	f.StringSliceVar(&releaseKeys, "release-key", nil, "PEM file of a public key whose signed software releases the hub accepts (molen release keygen; repeatable; none: no uploads)")
	var cl hub.Cluster
	var node cluster.Node
	var clustered bool
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		var err error
		if clustered {
			if node.Listen != "" {
				node.Name = cmp.Or(node.Name, cl.Replica)
				if node.Name == "" {
					return errors.New("--nats-name: required with --nats-listen (or give --replica)")
				}
				node.Dir = cmp.Or(node.Dir, filepath.Join(cfg.DataDir, "nats"))
				cl.Node = &node
				// The node's certificate is good for a client too.
				cl.TLS.CA = cmp.Or(cl.TLS.CA, node.TLS.CA)
				if cl.TLS.Cert == "" && cl.TLS.Key == "" {
					cl.TLS.Cert, cl.TLS.Key = node.TLS.Cert, node.TLS.Key
				}
			}
			cfg.Cluster = &cl
		}
		if cfg.ReleaseKeys, err = readPublicKeys("--release-key", releaseKeys); err != nil {
			return err
		}
		if oidc.Issuer != "" { // the secret from $MOLEN_OIDC_CLIENT_SECRET too (withConfig)
			oidc.Role = api.Role(oidcRole)
			cfg.OIDC = []auth.OIDCProvider{oidc}
		}
		if cfg.SMTP.Password == "" {
			cfg.SMTP.Password = os.Getenv("MOLEN_SMTP_PASSWORD")
		}
		if cfg.SMTP.Addr != "" && cfg.SMTP.From == "" {
			return errors.New("--smtp-from: required with --smtp-addr (the sender of the hub's e-mail)")
		}
		switch cfg.SMTP.TLS {
		case "starttls", "tls", "none":
		default:
			return fmt.Errorf("--smtp-tls %q: want starttls, tls or none", cfg.SMTP.TLS)
		}
		return nil
	}
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM file of the hub's certificate (and chain): serve HTTPS only; with --tls-key")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "PEM file of the certificate's private key")
	f.StringVar(&cfg.PublicURL, "public-url", "", "the hub's address as people reach it (https://hub.example.org), for the links it makes; default: the listen address")
	f.StringSliceVar(&cfg.TrustedProxies, "trusted-proxy", nil, "address or CIDR range of a reverse proxy in front of the hub whose X-Forwarded-For and X-Forwarded-Proto it believes (repeatable)")
	f.DurationVar(&cfg.SessionIdle, "session-idle", time.Hour, "end a browser session after this long without a request")
	f.DurationVar(&cfg.SessionMax, "session-max", 12*time.Hour, "end a browser session after this long in any case")
	f.StringVar(&oidc.Name, "oidc-name", "sso", "name of the OpenID Connect provider in the hub's URLs")
	f.StringVar(&oidc.Issuer, "oidc-issuer", "", "OpenID Connect issuer URL of the identity provider people sign in with (Entra ID, Keycloak)")
	f.StringVar(&oidc.ClientID, "oidc-client-id", "", "the hub's client ID at the identity provider")
	f.StringVar(&oidc.ClientSecret, "oidc-client-secret", "", "the hub's client secret (better: $MOLEN_OIDC_CLIENT_SECRET, out of the process list)")
	f.StringVar(&oidc.Org, "oidc-org", "", "organisation a person new to the hub joins at their first sign-in (empty: only people the hub knows)")
	f.StringVar(&oidcRole, "oidc-role", "viewer", "their role there")
	f.StringVar(&cfg.SMTP.Addr, "smtp-addr", "", "mail server (host:port) for notifications by e-mail; empty: none")
	f.StringVar(&cfg.SMTP.From, "smtp-from", "", "sender address of the hub's e-mail")
	f.StringVar(&cfg.SMTP.Username, "smtp-user", "", "user name at the mail server (the password in $MOLEN_SMTP_PASSWORD)")
	f.BoolVar(&cfg.NotifyPrivateTargets, "notify-private-targets", false, "let organisations' webhook and MQTT channels reach loopback, link-local and private addresses (this hub's own network); off by default")
	f.StringVar(&cfg.SMTP.TLS, "smtp-tls", "starttls", "starttls (required), tls (implicit, port 465) or none (a relay on the same host or network only)")
	f.StringVar(&cfg.DataDir, "data", filepath.Join("molen-data", "hub"), "data directory (database, admin token)")
	f.StringVar(&cfg.Listen, "listen", hub.DefaultListen, "HTTP address for the API, web UI and /metrics")
	f.StringVar(&cfg.StoreSchema, "store-schema", "molen", "PostgreSQL schema, with --store")
	f.StringVar(&cfg.Store, "store", "", "storage: empty for the embedded database in --data, or a PostgreSQL URL postgres://user@host:5432/db (better: $MOLEN_STORE, which keeps the password out of the process list)")
	cfg.RetentionRaw, cfg.RetentionMinute, cfg.RetentionHour = hub.DefaultRetentionRaw, hub.DefaultRetentionMinute, hub.DefaultRetentionHour
	f.Var((*periodFlag)(&cfg.RetentionRaw), "retention-raw", "keep raw points this long by default: a duration like 90d or 36h, or 0 (forever)")
	f.Var((*periodFlag)(&cfg.RetentionMinute), "retention-minute", "keep 1-minute rollups this long by default (at least --retention-raw), or 0 (forever)")
	f.Var((*periodFlag)(&cfg.RetentionHour), "retention-hour", "keep 1-hour rollups this long by default (at least --retention-minute), or 0 (forever)")
	def := quota.Default
	cfg.Quota = &def
	f.Int64Var(&cfg.Quota.Series, "quota-series", quota.Default.Series, "series an organisation may have, unless a platform admin set its quota (0: no limit)")
	f.Int64Var(&cfg.Quota.PointsPerDay, "quota-points-per-day", quota.Default.PointsPerDay, "points an organisation may store per UTC day, unless a platform admin set its quota (0: no limit)")
	f.BoolVar(&clustered, "cluster", false, "run as one replica of a hub cluster on --store (PostgreSQL) and NATS JetStream (docs/cluster.md)")
	f.StringSliceVar(&cl.NATS, "nats", nil, "with --cluster: URLs of the NATS servers (nats://host:4222; repeatable)")
	f.StringVar(&cl.Replica, "replica", "", "with --cluster: this replica's name (its leases and NATS connection); default the host name and process ID")
	f.IntVar(&cl.Replicas, "cluster-replicas", ingest.DefaultReplicas, "with --cluster: replicas of the uplink stream (1 for a single NATS node)")
	f.IntVar(&cl.Partitions, "cluster-partitions", ingest.DefaultPartitions, "with --cluster: partitions of the uplink stream, each stored in order; the same on every replica, never changed")
	f.DurationVar(&cl.AckWait, "cluster-ack-wait", ingest.DefaultAckWait, "with --cluster: how long a replica may take to store a batch before another gets it (the failover time)")
	f.StringVar(&node.Listen, "nats-listen", "", "with --cluster: run an embedded NATS node, clients on this address (host:port)")
	f.StringVar(&node.Name, "nats-name", "", "the embedded node's name, unique in the NATS cluster (default --replica)")
	f.StringVar(&node.ClusterListen, "nats-cluster-listen", "", "the embedded node's address for routes from the other nodes (host:port)")
	f.StringSliceVar(&node.Routes, "nats-routes", nil, "the other NATS nodes' route addresses (host:port; repeatable)")
	f.StringVar(&node.Dir, "nats-dir", "", "the embedded node's JetStream directory (default <data>/nats)")
	f.StringVar(&cl.TLS.CA, "nats-ca", "", "with --cluster: PEM file of the CA of the NATS servers' certificates (default: the embedded node's --nats-tls-ca; for tls:// URLs, the system's)")
	f.StringVar(&cl.TLS.Cert, "nats-cert", "", "with --cluster: PEM file of this replica's certificate for NATS servers that require one (default: the embedded node's --nats-tls-cert)")
	f.StringVar(&cl.TLS.Key, "nats-key", "", "the private key of --nats-cert")
	f.StringVar(&node.TLS.Cert, "nats-tls-cert", "", "PEM file of the embedded node's certificate: TLS for its clients and routes (naming every host peers dial, and 127.0.0.1)")
	f.StringVar(&node.TLS.Key, "nats-tls-key", "", "the private key of --nats-tls-cert")
	f.StringVar(&node.TLS.CA, "nats-tls-ca", "", "PEM file of the CA whose certificates the embedded node requires of its clients and routes")
	f.BoolVar(&node.SyncAlways, "nats-sync-always", true, "the embedded node fsyncs each write before acknowledging it (false: every 2 minutes, as NATS by default)")
	startPprof = addPprof(cmd)
	withConfig(cmd, g)
	cmd.AddCommand(newHubInvite(g))
	return cmd
}

var oidcRole string

func newHubInvite(g *globals) *cobra.Command {
	var cfg hub.Config
	var org, role, email string
	var days int
	cmd := &cobra.Command{
		Use:   "invite",
		Short: "Make a one-time invitation link as the hub's operator (the first platform admin, say)",
		Long: `Make a one-time invitation to an organisation, as the operator who can reach
the hub's database: how a new hub gets its first platform admin, who then
makes hubs, companies and their owners in the API or the web UI:

  molen hub invite --org platform --role platform-admin --email ops@example.org

The link is printed once; only its hash is stored. It works for --days days.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if email == "" {
				return errNoEmail
			}
			link, err := hub.Invite(cmd.Context(), cfg, org, api.Role(role), email, time.Duration(days)*24*time.Hour)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "invitation for %s to %s as %s (one use, %d days):\n\n    %s\n", email, org, role, days, link)
			return nil
		},
	}
	storeFlags(cmd, &cfg)
	f := cmd.Flags()
	f.StringVar(&cfg.PublicURL, "public-url", "", "the hub's address as people reach it, for the link")
	f.StringVar(&cfg.Listen, "listen", hub.DefaultListen, "the hub's listen address, for the link when --public-url is not given")
	f.StringVar(&org, "org", auth.PlatformOrg, "organisation")
	f.StringVar(&role, "role", string(api.RolePlatformAdmin), "role in it")
	f.StringVar(&email, "email", "", "the person's email address")
	f.IntVar(&days, "days", 7, "days the link works")
	return cmd
}

// periodFlag is a retention period flag of hub.Config: a Go duration, a
// number of days (90d), or 0 or forever for hub.KeepForever.
type periodFlag time.Duration

func (p *periodFlag) String() string {
	if time.Duration(*p) == hub.KeepForever {
		return "forever"
	}
	return store.FormatPeriod(time.Duration(*p))
}

func (p *periodFlag) Set(s string) error {
	d, err := store.ParsePeriod(s)
	if err != nil {
		return err
	}
	if d == 0 {
		d = hub.KeepForever
	}
	*p = periodFlag(d)
	return nil
}

func (p *periodFlag) Type() string { return "period" }
