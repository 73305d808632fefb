//go:build !edgeonly

package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/sim"
)

// demoCycleTimes are the simulated machines' nominal cycle times in
// simulated seconds (docs/sim.md); OEE needs them as ideal cycle times.
var demoCycleTimes = []struct {
	machine string
	seconds float64
}{
	{"cnc-mill", 48}, {"injection-press", 28}, {"packaging", 6}, {"compressor", 30}, {"robot-cell", 18},
}

// demoProcessTags are the simulator's process values, which the demo
// pipeline checks for anomalies and sends to the hub as 10-second means.
var demoProcessTags = []string{
	"spindle_speed_rpm", "spindle_temp_c", "coolant_pressure_bar", "mould_temp_c",
	"injection_pressure_bar", "oil_temp_c", "motor_temp_c", "air_pressure_bar",
	"pressure_bar", "temperature_c", "joint_temp_c", "gripper_pressure_bar", "vibration_mm_s",
}

// demoPipeline returns the demo edge's pipeline for a simulator running at
// rate ticks (simulated seconds) per wall-clock second. Timestamps are wall
// clock, so ideal cycle times are scaled by the rate.
func demoPipeline(rate float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# The pipeline of molen demo's edge, written by 'molen demo --rate %g' at every start.
# The edge starts with it; the hub's desired state (which the demo fills with the
# same pipelines) then runs instead: change them in the web UI, Fleet → Desired
# state. 'molen demo --pipeline FILE' runs a file of your own, reloaded when it
# changes. See docs/pipelines.md and docs/fleet.md.
pipelines:
  # States, downtime events and OEE per machine. State, good and scrap counts
  # go to the hub when they change; OEE every minute. The packaging machine
  # comes over Modbus, which has no strings: its state register (%[2]s,
  # 1 running, 2 idle, 3 setup, 4 down) becomes its state first.
  - name: production
    match:
      - "demo-factory/+/+/+/state"
      - "demo-factory/+/+/+/%[2]s"
      - "demo-factory/+/+/+/good_count"
      - "demo-factory/+/+/+/scrap_count"
    stages:
      - map:
          inputs: {n: %[2]s}
          value: "n == 1 ? 'running' : n == 2 ? 'idle' : n == 3 ? 'setup' : n == 4 ? 'down' : 'unknown'"
          series: "{asset}/state"
          keep_inputs: false
      - state: {code_tag: state_code, max_gap: 30s}
      - oee:
          window: 1m
          lateness: 2s
          state_tag: state_code
          max_gap: 30s
          details: true
          ideal_cycle_times:
`, rate, sim.TagStateNumber)
	for _, m := range demoCycleTimes {
		ideal := time.Duration(m.seconds / rate * float64(time.Second)).Round(time.Millisecond)
		fmt.Fprintf(&b, "            - {asset: \"+/+/+/%s\", time: %s}\n", m.machine, ideal)
	}
	b.WriteString(`      - deadband: {max_silence: 1m}
    output: forward

  # Process values: anomalies of the raw vibration (events), an alarm when the
  # compressor's pressure falls below 7.2 bar (it unloads when it idles or
  # stops; the hub's notification rules announce it), then a 10-second mean
  # under the same name, which is what the hub stores and charts.
  - name: process
    match:
`)
	for _, tag := range demoProcessTags {
		fmt.Fprintf(&b, "      - \"demo-factory/+/+/+/%s\"\n", tag)
	}
	b.WriteString(`    stages:
      - anomaly: {method: mad, tags: [vibration_mm_s], window: 120, warmup: 60, threshold: 6, clear_threshold: 3, raise_count: 3, clear_count: 10, min_std: 0.05}
      - alarm: {tags: [pressure_bar], limits: [{name: pressure_low, low: 7.2, severity: warning}], deadband: 0.1, delay_on: 2s, delay_off: 5s}
      - window: {size: 10s, aggregates: [mean], series: "{series}", allowed_lateness: 1s}
    output: forward

  # Meters: only changes beyond 5 %, and at least one value a minute.
  - name: meters
    match:
      - "demo-factory/+/+/+/power_kw"
      - "demo-factory/+/+/+/energy_kwh"
      - "demo-factory/+/+/+/cycle_time_s"
    stages:
      - deadband: {percent: 5, max_silence: 1m}
    output: forward

  # The AGV (VDA 5050): positions, battery and the rest when they change by
  # more than 0.5 (m, %, V, rad), states and flags when they change, and
  # every value at least once a minute.
  - name: agv
    match: "demo-factory/+/agv/#"
    stages:
      - deadband: {absolute: 0.5, max_silence: 1m}
    output: forward

# Everything else (the per-machine seq counter) goes to the hub unchanged.
`)
	return b.String()
}
