// Package sim is molen's simulated factory. It publishes machine data over
// MQTT to a molen edge, the way real devices would; `molen sim` and
// `molen demo` run it, and end-to-end tests use its per-machine sequence
// numbers to check that every message arrives.
//
// Serve (a Server) speaks industrial protocols instead: the packaging
// machine as a Modbus TCP device, the compressor as an OPC UA server, a
// robot cell as a Sparkplug B device and an AGV over VDA 5050, the last two
// on an MQTT broker of its own; each machine reaches the edge over exactly
// one protocol (ServeConfig.MQTTMachines), and Server.Inputs writes the
// edge inputs file that reads them. docs/sim.md has the register map, the
// node ids (and how to browse them), the Sparkplug names and the VDA 5050
// topics.
//
// # The factory
//
// One site ("demo-factory" unless configured otherwise) with one line of four
// machines of different kinds. Their asset paths are
// site/area/line/machine:
//
//	demo-factory/hall-a/line-1/cnc-mill          cycle 48 s, MTBF 2 h,   MTTR 15 min
//	demo-factory/hall-a/line-1/injection-press   cycle 28 s, MTBF 1.5 h, MTTR 10 min
//	demo-factory/hall-a/line-1/packaging         cycle 6 s,  MTBF 1 h,   MTTR 5 min
//	demo-factory/hall-a/line-1/compressor        cycle 30 s, MTBF 3 h,   MTTR 20 min
//
// (times are simulated time). Each machine is a state machine:
//
//   - running: it makes parts. A hidden wear variable grows with running
//     time; the failure hazard rises with the square of wear (a Weibull
//     hazard of shape 3 whose mean is the MTBF, plus a small random part).
//     Wear also makes process values drift (higher temperatures and
//     vibration, for example), slows cycles and raises the scrap rate, so
//     the drift precedes failures.
//   - down: after a failure, for a lognormal repair time with mean MTTR.
//     The repair resets wear.
//   - setup: a changeover, every few hours for 10 to 30 minutes on average.
//   - idle: starved or blocked, a few minutes now and then.
//
// For the compressor a "part" is one load cycle, and scrap a load cycle that
// failed to reach pressure.
//
// # Tags
//
// Every tick of a machine publishes one message per tag, in this order,
// with seq last. Values are JSON numbers or strings; floats always carry a
// decimal point, so they decode as floats, and counters decode as integers.
//
//	state             string   running | idle | setup | down
//	good_count        int      good parts since the sim started (monotonic)
//	scrap_count       int      scrapped parts since the sim started (monotonic)
//	cycle_time_s      float    duration of the last completed cycle, s
//	<process tags>    float    see below
//	power_kw          float    electrical power, kW
//	energy_kwh        float    energy meter since the sim started, kWh (monotonic)
//	seq               int      1, 2, 3, … : +1 on every tick of the machine
//
// Process tags by machine (values while running at no wear; all but
// air_pressure_bar drift with wear, temperatures and vibration upwards):
//
//	cnc-mill          spindle_speed_rpm (12000 rpm), spindle_temp_c (42 °C),
//	                  vibration_mm_s (2.0 mm/s RMS), coolant_pressure_bar (6.0 bar)
//	injection-press   mould_temp_c (65 °C), injection_pressure_bar (1150 bar),
//	                  oil_temp_c (48 °C), vibration_mm_s (1.6 mm/s RMS)
//	packaging         motor_temp_c (55 °C), vibration_mm_s (2.8 mm/s RMS),
//	                  air_pressure_bar (6.2 bar)
//	compressor        pressure_bar (7.5 bar), temperature_c (82 °C, discharge),
//	                  vibration_mm_s (3.2 mm/s RMS)
//
// Process values carry sensor noise and follow the machine's state with a
// lag (temperatures cool down over minutes when a machine stops). Now and
// then a sensor glitches: its value is published noisier, with quality
// "uncertain".
//
// # Topics and payloads
//
// The topic is the series path site/area/line/machine/tag, for example
// demo-factory/hall-a/line-1/cnc-mill/spindle_temp_c, and the payload is
//
//	{"value": 42.7, "ts": 1772352000000}
//	{"value": 43.9, "ts": 1772352000000, "q": "uncertain"}
//
// with ts the wall-clock time of the tick in unix milliseconds; all messages
// of one tick carry the same ts. The payloads decode with uns.Decode.
//
// # Time and determinism
//
// Each tick advances a machine by one second of simulated time; Rate is the
// number of ticks per wall-clock second per machine (Rate 60 runs an hour of
// factory time per minute). The model (Factory) is pure: the same seed gives
// the same states and values tick by tick, whatever the wall clock; only ts
// differs. Each machine draws from its own PCG source seeded from the seed
// and its name.
//
// # Delivery
//
// Each machine has its own MQTT 3.1.1 client (client id "<prefix>-<machine>")
// and publishes with QoS 1 on a persistent session (clean session off). The
// client keeps every publish in memory until the broker acknowledges it
// (PUBACK), retries the connection every second, and resends what is
// unacknowledged after every (re)connect; so a broker restart loses nothing,
// though a message whose PUBACK was lost arrives twice. At most MaxInflight
// messages per machine are unacknowledged: beyond that the machine's ticks
// wait (none is dropped or skipped), which bounds memory while the broker is
// down. On stop, Run waits up to DrainTimeout for outstanding
// acknowledgements. Sim.Acked reports, per machine, the seq up to which every
// tick was acknowledged; Sim.Published the last tick handed to the client.
package sim
