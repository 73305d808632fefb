package cli

import (
	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/sim"
)

func newSim(g *globals) *cobra.Command {
	var cfg sim.Config
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run a simulated factory that publishes to an MQTT broker",
		Long: `Run a simulated factory: one line of machines (CNC mill, injection press,
packaging machine, compressor), each with states, failures and repairs, part
counters, drifting process values and an energy meter, published over MQTT in
the UNS layout site/area/line/machine/tag with {"value":…,"ts":…} payloads.

Every machine also publishes 'seq', increasing by one per tick, so loss and
duplication can be checked downstream. The same --seed gives the same values.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg.Log = log
			s, err := sim.New(cfg)
			if err != nil {
				return err
			}
			return ignoreCanceled(s.Run(cmd.Context()))
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Broker, "broker", "127.0.0.1:1883", "MQTT broker (a molen edge) host:port")
	f.Int64Var(&cfg.Seed, "seed", 1, "seed of the factory model")
	f.Float64Var(&cfg.Rate, "rate", sim.DefaultRate, "ticks per second per machine (each tick publishes every tag)")
	f.StringVar(&cfg.Site, "site", sim.DefaultSite, "site segment of the UNS paths")
	return cmd
}
