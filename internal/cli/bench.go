//go:build !edgeonly

package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/bench"
)

func newBench(g *globals) *cobra.Command {
	var cfg bench.Config
	var scenario string
	var asJSON bool
	var qos int
	var services string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure edge and hub under device load: rates per stage, latency, CPU, memory, disk, drops",
		Long: `Measure a whole molen flow under load. molen bench starts a hub and an edge
(as child processes of this binary, data in a temporary directory), enrolls
the edge, and drives the edge's MQTT listener with simulated devices: --devices
MQTT connections, each with --tags tags sent --tags-per-message to a JSON
payload ({"temperature":21.503,"pressure":31.017}) at --rate Hz, QoS 0 or 1.

With --broker host:port the devices publish to that MQTT broker instead and
the edge reads it as a client: an mqtt input subscribed to the run's own topic
root (<run>/bench/#, mapped onto the same bench/… paths), or with --payload
sparkplug a sparkplug input (each device a Sparkplug B edge node of the run's
group, sending an NBIRTH, then NDATA messages by alias). Messages the input
counted lost (Sparkplug seq gaps) are reported; after the load the run waits
for what the broker still held, and what never arrived the broker dropped.

With --services spc,oee,energy the edge runs molen's first-party services on
the load, each as an install from the marketplace runs (a pipeline of its own
over every series, output drop: their events reach the hub), and a pipeline
forwards the devices' points. The services are built from services/ of the
checkout in the working directory (with the go tool, as molen demo builds
them), and the devices publish as machines that the services read: topics
bench/line/d0000/m000, tags state (running, now and then idle or down) and
good_count (--tags-per-message 2). --services none is the same load without
services, to compare with. The report adds each service's points in and out,
events, failures and memory.

After --warmup it measures for --duration, then stops the load, waits until the
edge forwarded everything and checks the counts end to end.

It prints: messages/s and points/s the devices sent, the edge's listener took,
its pipeline stored, the uplink delivered and the hub stored; the latency from
a device's timestamp to the point arriving on the hub's live stream (stored and
queryable) and, with QoS 1, from publish to PUBACK; each process's CPU (user +
system, in cores) and messages per CPU-second, its peak RSS and its RSS at the
window's end; disk bytes per point on each side; and every drop (0 below
saturation).

Scenarios (flags given after --scenario change it):
  tiny     4 devices × 10 tags at 5 Hz, 3 s (a smoke test)
  small    1,000 tags at 1 Hz (10 devices × 100), 30 s
  medium   10,000 tags at 1 Hz (100 devices × 100), 30 s
  large    100,000 tags at 1 Hz (100 devices × 1,000), 30 s
  max      100 devices, one topic each: doubles the rate from 10 messages/s per
           device until the hub no longer keeps up or the edge's backlog grows,
           then narrows it down; reports the highest sustained rate

To measure running processes instead, give --edge-mqtt, --edge-status, --hub
and --hub-token (CPU and memory then come from their /metrics).

The machine's other load counts: run it on a quiet machine, and compare runs
with --json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			base, ok := bench.Scenarios[scenario]
			if !ok {
				return fmt.Errorf("--scenario %q: want one of %s", scenario, strings.Join(bench.ScenarioNames, ", "))
			}
			// Flags the user set override the scenario's values.
			f := cmd.Flags()
			set := func(name string, apply func()) {
				if f.Changed(name) {
					apply()
				}
			}
			run := base
			run.Scenario = scenario
			set("devices", func() { run.Load.Devices = cfg.Load.Devices })
			set("tags", func() { run.Load.Tags = cfg.Load.Tags })
			set("tags-per-message", func() { run.Load.TagsPerMessage = cfg.Load.TagsPerMessage })
			set("rate", func() { run.Load.Rate = cfg.Load.Rate })
			set("qos", func() { run.Load.QoS = byte(qos) })
			set("inflight", func() { run.Load.Inflight = cfg.Load.Inflight })
			run.Load.Payload = cfg.Load.Payload
			set("warmup", func() { run.Warmup = cfg.Warmup })
			set("duration", func() { run.Duration = cfg.Duration })
			if qos < 0 || qos > 1 {
				return fmt.Errorf("--qos %d: 0 or 1", qos)
			}
			run.SyncInterval, run.Dir = cfg.SyncInterval, cfg.Dir
			run.EdgeMQTT, run.EdgeStatus, run.HubURL, run.HubToken = cfg.EdgeMQTT, cfg.EdgeStatus, cfg.HubURL, cfg.HubToken
			run.EdgeDir, run.HubDir, run.EdgePprof, run.EdgeMolen = cfg.EdgeDir, cfg.HubDir, cfg.EdgePprof, cfg.EdgeMolen
			run.Broker, run.InputInflight, run.InputVersion = cfg.Broker, cfg.InputInflight, cfg.InputVersion
			if f.Changed("services") {
				run.Load.Machines, run.ServicesSrc = true, "services"
				if services != "none" {
					run.Services = strings.Split(services, ",")
				}
			}
			if run.HubToken == "" {
				run.HubToken = os.Getenv("MOLEN_BENCH_HUB_TOKEN")
			}
			if run.Molen = cfg.Molen; run.Molen == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("find the molen binary (--molen): %w", err)
				}
				run.Molen = exe
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			run.Log, run.LogLevel = log, g.logLevel
			res, err := bench.Run(cmd.Context(), run)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			return res.WriteTable(g.stdout)
		},
	}
	f := cmd.Flags()
	names := slices.Clone(bench.ScenarioNames)
	f.StringVar(&scenario, "scenario", "small", "load: "+strings.Join(names, ", "))
	f.IntVar(&cfg.Load.Devices, "devices", 0, "device connections (default: the scenario's)")
	f.IntVar(&cfg.Load.Tags, "tags", 0, "tags per device (default: the scenario's)")
	f.IntVar(&cfg.Load.TagsPerMessage, "tags-per-message", 0, "tags in one JSON payload (default: the scenario's)")
	f.Float64Var(&cfg.Load.Rate, "rate", 0, "each tag's rate in Hz; with max, the rate to start from (default: the scenario's)")
	f.IntVar(&qos, "qos", 1, "MQTT QoS of the devices' publishes: 0 or 1")
	f.IntVar(&cfg.Load.Inflight, "inflight", 100, "QoS 1 publishes a device has unacknowledged at most")
	f.StringVar(&cfg.Load.Payload, "payload", bench.PayloadJSON, "the devices' payloads: json, or sparkplug (Sparkplug B edge nodes; needs --broker)")
	f.StringVar(&cfg.Broker, "broker", "", "host:port of an MQTT broker: the devices publish there and the edge reads it with an mqtt input (json) or a sparkplug input, instead of its listener")
	f.IntVar(&cfg.InputInflight, "input-inflight", 0, "with --broker: the input's max_inflight (default: the input's)")
	f.IntVar(&cfg.InputVersion, "input-version", 0, "with --broker and json: the mqtt input's MQTT version, 3 or 5 (default: the input's, 3)")
	f.DurationVar(&cfg.Warmup, "warmup", 0, "load before measuring (default: the scenario's)")
	f.DurationVar(&cfg.Duration, "duration", 0, "the measured window; each step's with max (default: the scenario's)")
	f.DurationVar(&cfg.SyncInterval, "buffer-sync-interval", 0, "the edge's --buffer-sync-interval: 0 fsyncs before every acknowledgement")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON, for comparing runs")
	f.StringVar(&cfg.Molen, "molen", "", "molen binary that runs hub and edge (default: this one)")
	f.StringVar(&cfg.EdgeMolen, "edge-molen", "", "molen binary that runs the edge, e.g. an edge-only build (default: --molen)")
	f.StringVar(&cfg.Dir, "data", "", "directory for their data and logs (default: a temporary one, removed after)")
	f.StringVar(&cfg.EdgeMQTT, "edge-mqtt", "", "measure a running edge: its MQTT listener (with --edge-status, --hub, --hub-token)")
	f.StringVar(&cfg.EdgeStatus, "edge-status", "", "the running edge's status address (its /metrics)")
	f.StringVar(&cfg.HubURL, "hub", "", "measure a running hub: its URL (with --hub-token)")
	f.StringVar(&cfg.HubToken, "hub-token", "", "API token of the edge's organisation at --hub (better: $MOLEN_BENCH_HUB_TOKEN)")
	f.StringVar(&services, "services", "", "first-party services the edge runs on the load, comma-separated: "+strings.Join(bench.ServiceNames, ", ")+"; none for the same load without them (built from services/ in the working directory; the devices publish as machines)")
	f.StringVar(&cfg.EdgePprof, "edge-pprof", "", "start the edge with --pprof on this address, to profile it under the load")
	f.StringVar(&cfg.EdgeDir, "edge-data", "", "the running edge's data directory, for its disk use")
	f.StringVar(&cfg.HubDir, "hub-data", "", "the running hub's data directory, for its disk use")
	return cmd
}
