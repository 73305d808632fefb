//go:build !edgeonly

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/sim"
)

func newSim(g *globals) *cobra.Command {
	var (
		cfg        sim.Config
		serve      sim.ServeConfig
		inputsFile string
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run a simulated factory that publishes to an MQTT broker",
		Long: `Run a simulated factory: one line of machines (CNC mill, injection press,
packaging machine, compressor), each with states, failures and repairs, part
counters, drifting process values and an energy meter, published over MQTT in
the UNS layout site/area/line/machine/tag with {"value":…,"ts":…} payloads.

Every machine also publishes 'seq', increasing by one per tick, so loss and
duplication can be checked downstream. The same --seed gives the same values.

Industrial protocols, each flag an address the simulator listens on (port 0
picks a free one; the log and --inputs tell which):

  --modbus ADDR     serve the packaging machine as a Modbus TCP device
                    (instead of MQTT)
  --mtconnect ADDR  serve the CNC mill from an MTConnect agent (HTTP, instead
                    of MQTT)
  --s7 ADDR         serve the injection press as a Siemens S7 PLC (S7comm,
                    data block 1; instead of MQTT)
  --opcua ADDR      serve the compressor as an OPC UA server (instead of MQTT)
  --sparkplug ADDR  add a robot cell, a Sparkplug B device, on an MQTT broker
                    the simulator runs at ADDR
  --vda5050 ADDR    add an AGV speaking VDA 5050 v2 on an MQTT broker the
                    simulator runs at ADDR (the same ADDR as --sparkplug
                    shares one broker)
  --drop DIR        add a leak tester that writes its results as CSV files
                    into DIR (read by the edge's files input)

--inputs FILE writes an edge inputs file that reads them (molen edge --inputs).
Register map, node ids and topics: docs/sim.md.`,
		Example: `  molen sim --broker 127.0.0.1:1883
  molen sim --broker 127.0.0.1:1883 --modbus 127.0.0.1:5020 --mtconnect 127.0.0.1:5000 \
      --s7 127.0.0.1:1102 --opcua 127.0.0.1:4840 --sparkplug 127.0.0.1:1884 --vda5050 127.0.0.1:1884 --inputs sim-inputs.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg.Log = log
			serve.Seed, serve.Rate, serve.Site, serve.Log = cfg.Seed, cfg.Rate, cfg.Site, log
			cfg.Machines = serve.MQTTMachines()
			s, err := sim.New(cfg)
			if err != nil {
				return err
			}
			if serve.Modbus == "" && serve.MTConnect == "" && serve.S7 == "" && serve.OPCUA == "" && serve.Sparkplug == "" && serve.VDA5050 == "" && serve.Drop == "" {
				if inputsFile != "" {
					return errors.New("--inputs: nothing to read: give --modbus, --mtconnect, --s7, --opcua, --sparkplug, --vda5050 or --drop")
				}
				return ignoreCanceled(s.Run(cmd.Context()))
			}
			srv, err := sim.Serve(serve)
			if err != nil {
				return err
			}
			a := srv.Addrs()
			log.Info("sim serves", "modbus", a.Modbus, "mtconnect", a.MTConnect, "s7", a.S7, "opcua", a.OPCUA, "sparkplug", a.Sparkplug, "vda5050", a.VDA5050)
			if inputsFile != "" {
				if err := os.WriteFile(inputsFile, srv.Inputs(), 0o644); err != nil {
					srv.Close()
					return fmt.Errorf("write --inputs: %w", err)
				}
			}
			return runBoth(cmd.Context(), s, srv)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Broker, "broker", "127.0.0.1:1883", "MQTT broker (a molen edge) host:port")
	f.Int64Var(&cfg.Seed, "seed", 1, "seed of the factory model")
	f.Float64Var(&cfg.Rate, "rate", sim.DefaultRate, "ticks per second per machine (each tick publishes every tag)")
	f.StringVar(&cfg.Site, "site", sim.DefaultSite, "site segment of the UNS paths")
	f.StringVar(&serve.Modbus, "modbus", "", "serve the packaging machine over Modbus TCP on this host:port instead of MQTT")
	f.StringVar(&serve.MTConnect, "mtconnect", "", "serve the CNC mill from an MTConnect agent on this host:port instead of MQTT")
	f.StringVar(&serve.S7, "s7", "", "serve the injection press as a Siemens S7 PLC on this host:port instead of MQTT")
	f.StringVar(&serve.OPCUA, "opcua", "", "serve the compressor over OPC UA on this host:port instead of MQTT")
	f.StringVar(&serve.Sparkplug, "sparkplug", "", "add the robot cell as a Sparkplug B device on an MQTT broker run at this host:port")
	f.StringVar(&serve.VDA5050, "vda5050", "", "add an AGV speaking VDA 5050 on an MQTT broker run at this host:port")
	f.StringVar(&serve.Drop, "drop", "", "add a leak tester writing CSV result files into this folder")
	f.StringVar(&inputsFile, "inputs", "", "write an edge inputs file reading the protocols above to this file")
	return cmd
}

// runBoth runs the MQTT machines and the served ones until ctx ends.
func runBoth(ctx context.Context, s *sim.Sim, srv *sim.Server) error {
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = s.Run(ctx) })
	wg.Go(func() { errs[1] = srv.Run(ctx) })
	wg.Wait()
	return ignoreCanceled(errors.Join(errs...))
}

// ignoreCanceled turns the error of a run stopped by a signal into nil.
func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
