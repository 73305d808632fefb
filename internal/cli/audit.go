//go:build !edgeonly

package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/hub"
)

func newAudit(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check the hub's audit logs",
	}
	var cfg hub.Config
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify the hash chain of every organisation's audit log",
		Long: `Walk each organisation's audit log and check every entry's place and hash:
a changed, inserted or removed entry, or removed last entries, are reported
with where the chain breaks, and the exit status is 1.

Each log's head (the hash of its last entry) is printed: keep it elsewhere
(a ticket, a notebook) to detect later that the end of a log was cut off and
the head rewritten.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg.Log = log
			reps, err := hub.VerifyAudit(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			bad := 0
			for _, r := range reps {
				if r.OK {
					fmt.Fprintf(g.stdout, "ok      %-24s %6d entries  head %s\n", r.Org, r.Entries, r.Head)
					continue
				}
				bad++
				fmt.Fprintf(g.stdout, "BROKEN  %-24s %6d entries  %s\n", r.Org, r.Entries, r.Problem)
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d audit logs are broken", bad, len(reps))
			}
			fmt.Fprintf(g.stdout, "%d audit logs verified\n", len(reps))
			return nil
		},
	}
	storeFlags(verify, &cfg)
	cmd.AddCommand(verify)
	return cmd
}

// storeFlags are the flags that name a hub's storage.
func storeFlags(cmd *cobra.Command, cfg *hub.Config) {
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", filepath.Join("molen-data", "hub"), "the hub's data directory")
	f.StringVar(&cfg.Store, "store", os.Getenv("MOLEN_STORE"), "the hub's PostgreSQL URL, if it runs on PostgreSQL (also $MOLEN_STORE)")
	f.StringVar(&cfg.StoreSchema, "store-schema", "molen", "PostgreSQL schema, with --store")
}

var errNoEmail = errors.New("--email: required")
