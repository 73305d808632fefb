package cli

import (
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/store"
)

func newHub(g *globals) *cobra.Command {
	var cfg hub.Config
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
steps still cover the range whose raw points are gone (on either storage).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg.Log, cfg.Out = log, g.stdout
			log.Info("molen hub", "version", Version())
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
	f.StringVar(&cfg.DataDir, "data", filepath.Join("molen-data", "hub"), "data directory (database, admin token)")
	f.StringVar(&cfg.Listen, "listen", hub.DefaultListen, "HTTP address for the API, web UI and /metrics")
	f.StringVar(&cfg.StoreSchema, "store-schema", "molen", "PostgreSQL schema, with --store")
	f.StringVar(&cfg.Store, "store", os.Getenv("MOLEN_STORE"), "storage: empty for the embedded database in --data, or a PostgreSQL URL postgres://user@host:5432/db (also $MOLEN_STORE, which keeps the password out of the process list)")
	cfg.RetentionRaw, cfg.RetentionMinute, cfg.RetentionHour = hub.DefaultRetentionRaw, hub.DefaultRetentionMinute, hub.DefaultRetentionHour
	f.Var((*periodFlag)(&cfg.RetentionRaw), "retention-raw", "keep raw points this long by default: a duration like 90d or 36h, or 0 (forever)")
	f.Var((*periodFlag)(&cfg.RetentionMinute), "retention-minute", "keep 1-minute rollups this long by default (at least --retention-raw), or 0 (forever)")
	f.Var((*periodFlag)(&cfg.RetentionHour), "retention-hour", "keep 1-hour rollups this long by default (at least --retention-minute), or 0 (forever)")
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
