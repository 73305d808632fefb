package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/connector"
	"github.com/molen-io/molen/internal/connector/connectortest"
	"github.com/molen-io/molen/internal/uns"

	_ "github.com/molen-io/molen/internal/connector/files" // the inputs that read the counterparts
	_ "github.com/molen-io/molen/internal/connector/modbus"
	_ "github.com/molen-io/molen/internal/connector/mtconnect"
	_ "github.com/molen-io/molen/internal/connector/opcua"
	_ "github.com/molen-io/molen/internal/connector/s7"
	_ "github.com/molen-io/molen/internal/connector/sparkplug"
	_ "github.com/molen-io/molen/internal/connector/vda5050"
)

// TestServeReadByConnectors serves every counterpart (Sparkplug B and
// VDA 5050 on one broker) and reads them with molen's own inputs, configured
// by Server.Inputs as the demo's edge is: each machine's values, as one
// reading, are those of the model after as many ticks as its seq says.
func TestServeReadByConnectors(t *testing.T) {
	const seed = 5
	s := runServer(t, ServeConfig{
		Seed: seed, Rate: 20, Log: newLog(t),
		Modbus: "127.0.0.1:0", MTConnect: "127.0.0.1:0", S7: "127.0.0.1:0", OPCUA: "127.0.0.1:0", Sparkplug: "127.0.0.1:0", VDA5050: "127.0.0.1:0",
	})
	a := s.Addrs()
	if a.Sparkplug != a.VDA5050 {
		t.Errorf("sparkplug on %s, vda5050 on %s: want one shared broker for one address", a.Sparkplug, a.VDA5050)
	}
	sinks := runInputs(t, s.Inputs())
	if got, want := len(sinks), 6; got != want {
		t.Fatalf("%d inputs, want %d", got, want)
	}

	t.Run("modbus", func(t *testing.T) {
		k := kindNamed(ModbusMachine)
		got := waitReading(t, sinks["modbus"], lineAsset(k.name), len(k.tags()))
		want := modelAfter(k, seed, got[tagSeq].Int())
		for tag, w := range want {
			if tag == tagState {
				tag, w = TagStateNumber, uns.Int(int64(stateNumbers[w.Str()]))
			}
			g := got[tag]
			if w.Kind() == uns.KindFloat {
				// float32 registers
				if float32(g.Float64()) != float32(w.Float64()) {
					t.Errorf("%s: %v, want %v", tag, g, w)
				}
				continue
			}
			if g.Int() != w.Int() {
				t.Errorf("%s: %v, want %v", tag, g, w)
			}
		}
	})
	t.Run("mtconnect", func(t *testing.T) {
		k := kindNamed(MTConnectMachine)
		got := waitReading(t, sinks["mtconnect"], lineAsset(k.name), len(k.tags()))
		checkReading(t, got, modelAfter(k, seed, got[tagSeq].Int()))
	})
	t.Run("s7", func(t *testing.T) {
		k := kindNamed(S7Machine)
		got := waitReading(t, sinks["s7"], lineAsset(k.name), len(k.tags()))
		want := modelAfter(k, seed, got[tagSeq].Int())
		want[TagStateNumber] = uns.Int(int64(stateNumbers[want[tagState].Str()]))
		delete(want, tagState)
		checkReading(t, got, want)
	})
	t.Run("opcua", func(t *testing.T) { checkOPCUA(t, sinks["opcua"], seed) })
	t.Run("sparkplug", func(t *testing.T) {
		got := waitReading(t, sinks["sparkplug"], lineAsset(SparkplugMachine), len(robotCell.tags()))
		checkReading(t, got, modelAfter(&robotCell, seed, got[tagSeq].Int()))
	})
	t.Run("vda5050", func(t *testing.T) {
		agv := s.AGV()
		if agv != "demo-factory/hall-a/agv/molen-agv-1" {
			t.Errorf("AGV() = %q", agv)
		}
		got := waitReading(t, sinks["vda5050"], agv, 24) // the tags of a state message
		for tag, want := range map[string]uns.Value{
			"map_id": uns.String(Area), "operating_mode": uns.String("AUTOMATIC"), "e_stop": uns.String("NONE"),
		} {
			if got[tag] != want {
				t.Errorf("%s: %v, want %v", tag, got[tag], want)
			}
		}
		if b := got["battery_charge"].Float64(); !(b > 0 && b <= 100) {
			t.Errorf("battery_charge %v", b)
		}
		// The retained connection message arrives on its own.
		waitFor(t, "connection_state ONLINE", func() bool {
			return slices.ContainsFunc(sinks["vda5050"].Points(), func(p uns.Point) bool {
				return p.Series == agv+"/connection_state" && p.Value == uns.String("ONLINE")
			})
		})
	})
}

// TestServeOPCUABrowse reads the compressor's OPC UA server with an opcua
// input that finds the variables by browsing from the Objects folder, as
// docs/sim.md shows, instead of listing their NodeIDs.
func TestServeOPCUABrowse(t *testing.T) {
	const seed = 6
	s := runServer(t, ServeConfig{Seed: seed, Rate: 20, Log: newLog(t), OPCUA: "127.0.0.1:0"})
	sink := runInputs(t, fmt.Appendf(nil, `inputs:
  - opcua:
      endpoint: opc.tcp://%s
      security_mode: None
      publishing_interval: 50ms
      sampling_interval: 50ms
      browse:
        - pattern: %s/+
          path: %s/%s/%s/{1}/{2}
`, dialAddr(s.Addrs().OPCUA), OPCUAMachine, DefaultSite, Area, Line))["opcua"]
	checkOPCUA(t, sink, seed)

	// Every series is a tag of the compressor's, on the path MQTT would
	// carry it: nothing else was found, nothing named otherwise.
	k := kindNamed(OPCUAMachine)
	asset := lineAsset(k.name)
	for _, p := range sink.Points() {
		if uns.Asset(p.Series) != asset || !slices.Contains(k.tags(), uns.Tag(p.Series)) {
			t.Errorf("series %s: not a tag of %s", p.Series, asset)
		}
	}
}

// runServer serves cfg until the test ends. Inputs that the test runs
// after it stop first, as an edge stops while its devices stay.
func runServer(t *testing.T, cfg ServeConfig) *Server {
	t.Helper()
	s, err := Serve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// t.Context ends before cleanups run, which would stop the server and
	// the inputs at once.
	ctx, stop := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})
	return s
}

// runInputs runs the inputs of an edge inputs file until the test ends, and
// returns the sink of each, by kind.
func runInputs(t *testing.T, file []byte) map[string]*connectortest.Sink {
	t.Helper()
	conf, err := connector.ParseInputs(file)
	if err != nil {
		t.Fatalf("inputs do not load: %v\n%s", err, file)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	sinks := map[string]*connectortest.Sink{}
	for _, c := range conf {
		in, err := c.Build(newLog(t))
		if err != nil {
			t.Fatal(err)
		}
		sink := connectortest.NewSink()
		sinks[c.Kind] = sink
		wg.Go(func() {
			if err := in.Run(ctx, sink); err != nil {
				t.Errorf("%s: %v", c.Kind, err)
			}
		})
	}
	return sinks
}

// checkOPCUA checks what an opcua input read from the compressor into
// sink. A subscription delivers each node's changes on their own: a
// publish can hold some nodes at one tick and the rest at the next (the
// server keeps only each node's latest change), so the values are checked
// tag by tag against the tick their timestamp says.
func checkOPCUA(t *testing.T, sink *connectortest.Sink, seed int64) {
	t.Helper()
	k := kindNamed(OPCUAMachine)
	for tag, r := range waitTags(t, sink, lineAsset(k.name), k.tags()) {
		if w := modelAfter(k, seed, r.seq)[tag]; r.value != w {
			t.Errorf("%s at seq %d: %v, want %v", tag, r.seq, r.value, w)
		}
	}
}

// lineAsset is the asset path of machine name on the default site.
func lineAsset(name string) string { return DefaultSite + "/" + Area + "/" + Line + "/" + name }

// readings groups sink's points of asset by timestamp, each a map by tag.
func readings(sink *connectortest.Sink, asset string) map[int64]map[string]uns.Value {
	byTS := map[int64]map[string]uns.Value{}
	for _, p := range sink.Points() {
		if uns.Asset(p.Series) != asset {
			continue
		}
		if byTS[p.TS] == nil {
			byTS[p.TS] = map[string]uns.Value{}
		}
		byTS[p.TS][uns.Tag(p.Series)] = p.Value
	}
	return byTS
}

// ticked reports whether a reading comes from a tick: an input that
// connects before the server's first tick reads the initial values, with
// seq 0. Readings without seq (the AGV's) count as ticks.
func ticked(r map[string]uns.Value) bool {
	seq, ok := r[tagSeq]
	return !ok || seq.Int() >= 1
}

// waitReading waits until sink has n or more tags of asset stamped with one
// timestamp (one poll, one tick, one message) of a tick, and returns them by
// tag.
func waitReading(t *testing.T, sink *connectortest.Sink, asset string, n int) map[string]uns.Value {
	t.Helper()
	var got map[string]uns.Value
	waitFor(t, "a whole reading of a tick of "+asset, func() bool {
		for _, r := range readings(sink, asset) {
			if len(r) >= n && ticked(r) {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

// seqValue is a tag's value in the tick whose seq the same timestamp carries.
type seqValue struct {
	seq   int64
	value uns.Value
}

// waitTags waits until sink holds every one of tags of asset stamped with a
// timestamp at which a tick's seq of the asset is there too, and returns
// each tag's first such value with that seq.
func waitTags(t *testing.T, sink *connectortest.Sink, asset string, tags []string) map[string]seqValue {
	t.Helper()
	got := map[string]seqValue{}
	waitFor(t, "every tag of "+asset+" with its tick", func() bool {
		for _, r := range readings(sink, asset) {
			seq, ok := r[tagSeq]
			if !ok || !ticked(r) {
				continue
			}
			for tag, v := range r {
				if _, seen := got[tag]; !seen {
					got[tag] = seqValue{seq.Int(), v}
				}
			}
		}
		for _, tag := range tags {
			if _, ok := got[tag]; !ok {
				return false
			}
		}
		return true
	})
	return got
}

// modelAfter returns the tags of a machine of kind k after n ticks.
func modelAfter(k *kind, seed int64, n int64) map[string]uns.Value {
	m := newMachine(k, seed, "x")
	for range n {
		m.advance()
	}
	out := map[string]uns.Value{}
	for _, tv := range m.tagValues(nil) {
		out[tv.tag] = tv.value
	}
	return out
}

func checkReading(t *testing.T, got, want map[string]uns.Value) {
	t.Helper()
	for tag, w := range want {
		if g := got[tag]; g != w {
			t.Errorf("%s: %v, want %v", tag, g, w)
		}
	}
}

// waitFor waits until cond holds, polling it; what says what it waited for
// when it gives up. The deadline is far beyond what a loaded machine needs.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRegisters pins the packaging machine's Modbus register map of
// docs/sim.md.
func TestRegisters(t *testing.T) {
	var got []string
	for _, r := range registers(kindNamed(ModbusMachine)) {
		got = append(got, r.tag+"@"+strconv.Itoa(int(r.addr))+":"+r.typ)
	}
	want := []string{
		"state_number@0:uint16", "good_count@1:uint32", "scrap_count@3:uint32", "cycle_time_s@5:float32",
		"motor_temp_c@7:float32", "vibration_mm_s@9:float32", "air_pressure_bar@11:float32",
		"power_kw@13:float32", "energy_kwh@15:float32", "seq@17:uint32",
	}
	if !slices.Equal(got, want) {
		t.Errorf("registers:\n got %v\nwant %v", got, want)
	}
}

func TestServeConfig(t *testing.T) {
	if got, want := (ServeConfig{Modbus: ":502", OPCUA: ":4840"}).MQTTMachines(), []string{"cnc-mill", "injection-press"}; !slices.Equal(got, want) {
		t.Errorf("MQTTMachines() = %v, want %v", got, want)
	}
	if got, want := (ServeConfig{MTConnect: ":5000", S7: ":102"}).MQTTMachines(), []string{"packaging", "compressor"}; !slices.Equal(got, want) {
		t.Errorf("MQTTMachines() = %v, want %v", got, want)
	}
	if got := (ServeConfig{Sparkplug: ":1884"}).MQTTMachines(); len(got) != 4 {
		t.Errorf("MQTTMachines() = %v, want the four machines of the line", got)
	}
	if _, err := Serve(ServeConfig{Modbus: "nowhere"}); err == nil {
		t.Error("Serve with modbus \"nowhere\": no error")
	}
	if _, err := New(Config{Broker: "127.0.0.1:1883", Machines: []string{"robot-cell"}}); err == nil {
		t.Error("New with machines [robot-cell]: no error (the robot cell speaks Sparkplug B only)")
	}
	s, err := New(Config{Broker: "127.0.0.1:1883", Machines: []string{"cnc-mill"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Machines(); len(got) != 1 || got[0] != "demo-factory/hall-a/line-1/cnc-mill" {
		t.Errorf("Machines() = %v", got)
	}
}

// TestServeDropReadByFilesInput: the leak tester writes a CSV file every
// DropRows parts into the drop folder, and the files input that Inputs
// configures reads every row of it onto the tester's series and moves the
// file to done/.
func TestServeDropReadByFilesInput(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drop")
	s := runServer(t, ServeConfig{Seed: 3, Rate: 50, Log: newLog(t), Drop: dir})
	sinks := runInputs(t, s.Inputs())
	asset := lineAsset(LeakTester)
	waitFor(t, "a file's results", func() bool {
		return len(sinks["files"].Points()) >= 4*DropRows
	})
	byTag := map[string]int{}
	for _, p := range sinks["files"].Points()[:4*DropRows] {
		tag, ok := strings.CutPrefix(p.Series, asset+"/")
		if !ok {
			t.Fatalf("point of %s, want under %s", p.Series, asset)
		}
		byTag[tag]++
		switch tag {
		case "result":
			if v := p.Value.Str(); v != "pass" && v != "fail" {
				t.Errorf("result %q", v)
			}
		case "leak_rate":
			if f, _ := p.Value.AsFloat(); !(f > 0) {
				t.Errorf("leak_rate %v", p.Value)
			}
		}
	}
	for _, tag := range []string{"part", "pressure_mbar", "leak_rate", "result"} {
		if byTag[tag] != DropRows {
			t.Errorf("%d points of %s in the first file, want %d (all: %v)", byTag[tag], tag, DropRows, byTag)
		}
	}
	waitFor(t, "the file in done/", func() bool {
		ents, _ := os.ReadDir(filepath.Join(dir, "done"))
		return len(ents) > 0
	})
}

// TestS7Items pins the injection press's data block layout of docs/sim.md.
func TestS7Items(t *testing.T) {
	var got []string
	for _, it := range s7Items(kindNamed(S7Machine)) {
		got = append(got, it.tag+"@"+strconv.Itoa(it.byte)+":"+it.typ)
	}
	want := []string{
		"state_number@0:int", "good_count@2:dint", "scrap_count@6:dint", "cycle_time_s@10:lreal",
		"mould_temp_c@18:lreal", "injection_pressure_bar@26:lreal", "oil_temp_c@34:lreal", "vibration_mm_s@42:lreal",
		"power_kw@50:lreal", "energy_kwh@58:lreal", "seq@66:dint",
	}
	if !slices.Equal(got, want) {
		t.Errorf("data block:\n got %v\nwant %v", got, want)
	}
}
