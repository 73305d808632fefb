package cli

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/hub"
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

and start the edge with the enroll_token from the answer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg.Log, cfg.Out = log, g.stdout
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
	return cmd
}
