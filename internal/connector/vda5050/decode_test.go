package vda5050

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

func testDecoder(t testing.TB, edit func(*Config)) *decoder {
	t.Helper()
	c := NewConfig()
	c.URL = "tcp://127.0.0.1:1"
	c.Site, c.Area = "plant-1", "hall-a"
	if edit != nil {
		edit(c)
	}
	cc, err := compile(c)
	if err != nil {
		t.Fatal(err)
	}
	d := newDecoder(c, cc)
	d.events = true
	return d
}

const (
	stateTopic = "uagv/v2/Kivo Robotics/AGV-7/state"
	asset      = "plant-1/hall-a/agv/Kivo_Robotics-AGV-7"
	now        = int64(1_000_000_000)
)

// tsOf is the unix ns of "2024-05-01T12:00:00.250Z".
var tsOf = time.Date(2024, 5, 1, 12, 0, 0, 250e6, time.UTC).UnixNano()

const fullState = `{"headerId":12,"timestamp":"2024-05-01T12:00:00.250Z","version":"2.0.0",
"manufacturer":"Kivo Robotics","serialNumber":"AGV-7","orderId":"o-42","orderUpdateId":0,
"lastNodeId":"n7","lastNodeSequenceId":3,"driving":true,"paused":false,"newBaseRequest":false,
"operatingMode":"AUTOMATIC","nodeStates":[{"nodeId":"n8","sequenceId":4,"released":true}],"edgeStates":[],"actionStates":[],
"agvPosition":{"x":12.5,"y":-3.25,"theta":1.5,"mapId":"hall-a","positionInitialized":true,"localizationScore":0.9},
"velocity":{"vx":1.2,"vy":0,"omega":0.1},
"batteryState":{"batteryCharge":76.5,"batteryVoltage":48.2,"batteryHealth":97,"charging":false,"reach":1200},
"loads":[{"loadId":"p1","loadType":"EPAL","weight":250.5},{"loadId":"p2"}],
"errors":[{"errorType":"obstacleDetected","errorLevel":"WARNING","errorDescription":"object ahead","errorReferences":[{"referenceKey":"nodeId","referenceValue":"n8"}]}],
"information":[],"safetyState":{"eStop":"NONE","fieldViolation":false},"x-vendor":{"anything":[1,2,3]}}`

func TestDecodeState(t *testing.T) {
	d := testDecoder(t, nil)
	pts, evs, err := d.decode(nil, nil, stateTopic, []byte(fullState), now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uns.Value{
		TagPositionX: uns.Float(12.5), TagPositionY: uns.Float(-3.25), TagTheta: uns.Float(1.5),
		TagMapID: uns.String("hall-a"), TagPositionInitialized: uns.Bool(true), TagLocalizationScore: uns.Float(0.9),
		TagVelocityVx: uns.Float(1.2), TagVelocityVy: uns.Float(0), TagVelocityOmega: uns.Float(0.1),
		TagBatteryCharge: uns.Float(76.5), TagBatteryVoltage: uns.Float(48.2), TagBatteryHealth: uns.Float(97),
		TagCharging: uns.Bool(false), TagDriving: uns.Bool(true), TagPaused: uns.Bool(false),
		TagOperatingMode: uns.String("AUTOMATIC"), TagOrderID: uns.String("o-42"), TagLastNodeID: uns.String("n7"),
		TagLoadCount: uns.Int(2), TagLoadsWeight: uns.Float(250.5),
		TagErrorCount: uns.Int(1), TagErrorFatal: uns.Bool(false), TagError: uns.String("obstacleDetected"),
		TagEStop: uns.String("NONE"), TagFieldViolation: uns.Bool(false),
	}
	got := map[string]uns.Value{}
	for _, p := range pts {
		if p.TS != tsOf {
			t.Errorf("%s: ts %d, want %d (the message's timestamp)", p.Series, p.TS, tsOf)
		}
		if err := uns.ValidatePath(p.Series); err != nil {
			t.Error(err)
		}
		tag, ok := strings.CutPrefix(p.Series, asset+"/")
		if !ok {
			t.Errorf("series %q not under %q", p.Series, asset)
		}
		if _, dup := got[tag]; dup {
			t.Errorf("%s twice", tag)
		}
		got[tag] = p.Value
	}
	for tag, v := range want {
		if got[tag] != v {
			t.Errorf("%s = %v, want %v", tag, got[tag], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d tags, want %d: %v", len(got), len(want), got)
	}
	if len(evs) != 1 || evs[0].Kind != KindError || evs[0].Start != tsOf || evs[0].End != 0 ||
		evs[0].Attrs["errorType"] != "obstacleDetected" || evs[0].Attrs["description"] != "object ahead" {
		t.Errorf("events %+v, want one open agv_error", evs)
	}
}

// TestErrorsAcrossStates: an error is reported as a point and opened once,
// stays open while present, and is closed when gone.
func TestErrorsAcrossStates(t *testing.T) {
	d := testDecoder(t, nil)
	state := func(sec int, errs ...string) string {
		return fmt.Sprintf(`{"timestamp":"2024-05-01T12:00:%02dZ","errors":[%s]}`, sec, strings.Join(errs, ","))
	}
	warn := `{"errorType":"obstacle","errorLevel":"WARNING"}`
	fatal := `{"errorType":"motorFault","errorLevel":"FATAL","errorDescription":"` + strings.Repeat("é", 200) + `"}`
	at := func(sec int) int64 { return time.Date(2024, 5, 1, 12, 0, sec, 0, time.UTC).UnixNano() }
	steps := []struct {
		payload    string
		errorPts   []string // values of the "error" points
		count      int64
		fatal      bool
		opened     []string
		closed     []string
		closedFrom int64
	}{
		{state(0), nil, 0, false, nil, nil, 0},
		{state(1, warn), []string{"obstacle"}, 1, false, []string{"obstacle"}, nil, 0},
		{state(2, warn, warn), nil, 1, false, nil, nil, 0}, // still open; duplicate entry
		{state(3, warn, fatal), []string{"motorFault"}, 2, true, []string{"motorFault"}, nil, 0},
		{state(4, fatal), nil, 1, true, nil, []string{"obstacle"}, at(1)},
		{state(5), nil, 0, false, nil, []string{"motorFault"}, at(3)},
	}
	for i, s := range steps {
		pts, evs, err := d.decode(nil, nil, stateTopic, []byte(s.payload), now)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var errPts []string
		for _, p := range pts {
			switch uns.Tag(p.Series) {
			case TagError:
				errPts = append(errPts, p.Value.Str())
			case TagErrorCount:
				if p.Value.Int() != s.count {
					t.Errorf("step %d: error_count %v, want %d", i, p.Value, s.count)
				}
			case TagErrorFatal:
				if p.Value.Bool() != s.fatal {
					t.Errorf("step %d: error_fatal %v, want %t", i, p.Value, s.fatal)
				}
			}
		}
		if fmt.Sprint(errPts) != fmt.Sprint(s.errorPts) {
			t.Errorf("step %d: error points %q, want %q", i, errPts, s.errorPts)
		}
		var opened, closed []string
		for _, e := range evs {
			if err := uns.ValidateEvent(e); err != nil {
				t.Errorf("step %d: %v", i, err)
			}
			if e.End == 0 {
				opened = append(opened, e.Attrs["errorType"])
				if e.Start != at(i) {
					t.Errorf("step %d: opened at %d, want %d", i, e.Start, at(i))
				}
			} else {
				closed = append(closed, e.Attrs["errorType"])
				if e.End != at(i) || e.Start != s.closedFrom {
					t.Errorf("step %d: closed [%d, %d], want [%d, %d]", i, e.Start, e.End, s.closedFrom, at(i))
				}
			}
		}
		if fmt.Sprint(opened) != fmt.Sprint(s.opened) || fmt.Sprint(closed) != fmt.Sprint(s.closed) {
			t.Errorf("step %d: opened %q closed %q, want %q and %q", i, opened, closed, s.opened, s.closed)
		}
	}
}

func TestDecodeConnectionAndVisualization(t *testing.T) {
	d := testDecoder(t, nil)
	conn := func(s string) []byte {
		return fmt.Appendf(nil, `{"headerId":1,"timestamp":"2024-05-01T12:00:00.250Z","version":"2.0.0","manufacturer":"m","serialNumber":"s","connectionState":%q}`, s)
	}
	topic := "uagv/v2/m/s/connection"
	for i, tt := range []struct {
		state  string
		events int
		end    bool
	}{{Online, 0, false}, {ConnectionBroken, 1, false}, {ConnectionBroken, 0, false}, {Online, 1, true}} {
		pts, evs, err := d.decode(nil, nil, topic, conn(tt.state), now)
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) != 1 || uns.Tag(pts[0].Series) != TagConnectionState || pts[0].Value.Str() != tt.state || pts[0].TS != tsOf {
			t.Errorf("step %d: points %+v, want connection_state %s", i, pts, tt.state)
		}
		if len(evs) != tt.events || tt.events == 1 && (evs[0].Kind != KindConnectionBroken || (evs[0].End != 0) != tt.end) {
			t.Errorf("step %d: events %+v", i, evs)
		}
	}
	pts, _, err := d.decode(nil, nil, "uagv/v2/m/s/visualization", []byte(`{"agvPosition":{"x":1,"y":2,"theta":0,"mapId":"m"},"velocity":{"vx":0.5}}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 5 || pts[0].TS != now {
		t.Errorf("visualization without timestamp: %+v, want 5 points stamped now", pts)
	}
}

func TestDecodeRejects(t *testing.T) {
	big := `{"errors":[` + strings.Repeat(`{"errorType":"e","errorLevel":"WARNING"},`, MaxErrors) + `{"errorType":"e","errorLevel":"WARNING"}]}`
	tests := []struct {
		name, topic, payload, reason string
	}{
		{"not json", stateTopic, `{"driving":tru`, uns.ReasonNotJSON},
		{"garbage", stateTopic, "\x00\xff", uns.ReasonNotJSON},
		{"array", stateTopic, `[1,2]`, uns.ReasonWrongType},
		{"null", stateTopic, `null`, uns.ReasonWrongType},
		{"trailing", stateTopic, `{} {}`, uns.ReasonNotJSON},
		{"string for bool", stateTopic, `{"driving":"yes"}`, uns.ReasonWrongType},
		{"string for number", stateTopic, `{"agvPosition":{"x":"1.5"}}`, uns.ReasonWrongType},
		{"number out of range", stateTopic, `{"batteryState":{"batteryCharge":1e400}}`, uns.ReasonWrongType},
		{"object for array", stateTopic, `{"loads":{}}`, uns.ReasonWrongType},
		{"bad timestamp", stateTopic, `{"timestamp":"yesterday"}`, uns.ReasonBadTS},
		{"timestamp 1900", stateTopic, `{"timestamp":"1900-01-01T00:00:00Z"}`, uns.ReasonBadTS},
		{"error level", stateTopic, `{"errors":[{"errorType":"x","errorLevel":"INFO"}]}`, ReasonBadValue},
		{"error type", stateTopic, `{"errors":[{"errorLevel":"FATAL"}]}`, ReasonBadValue},
		{"too many errors", stateTopic, big, uns.ReasonOversized},
		{"long order id", stateTopic, `{"orderId":"` + strings.Repeat("o", MaxString+1) + `"}`, uns.ReasonOversized},
		{"oversized", stateTopic, `{"x":"` + strings.Repeat("a", 1<<20) + `"}`, uns.ReasonOversized},
		{"connection state", "uagv/v2/m/s/connection", `{"connectionState":"UP"}`, ReasonBadValue},
		{"connection missing", "uagv/v2/m/s/connection", `{}`, ReasonBadValue},
		{"other interface", "agv/v2/m/s/state", `{}`, ReasonUnmatched},
		{"order topic", "uagv/v2/m/s/order", `{}`, ReasonUnmatched},
		{"empty serial", "uagv/v2/m//state", `{}`, ReasonUnmatched},
		{"deep topic", "uagv/v2/m/s/state/x", `{}`, ReasonUnmatched},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDecoder(t, nil)
			pts, evs, err := d.decode(nil, nil, tt.topic, []byte(tt.payload), now)
			if got := uns.ReasonOf(err); got != tt.reason {
				t.Errorf("reason %q (%v), want %q", got, err, tt.reason)
			}
			if len(pts) != 0 || len(evs) != 0 || len(d.vehicles) != 0 {
				t.Errorf("rejected message left %d points, %d events, %d vehicles", len(pts), len(evs), len(d.vehicles))
			}
		})
	}
}

func TestVehicleLimitsAndFilter(t *testing.T) {
	d := testDecoder(t, func(c *Config) { c.MaxAGVs = 1; c.Manufacturers = []string{"m"} })
	if _, _, err := d.decode(nil, nil, "uagv/v2/m/a/state", []byte(`{}`), now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.decode(nil, nil, "uagv/v2/m/b/state", []byte(`{}`), now); uns.ReasonOf(err) != ReasonTooManyAGVs {
		t.Errorf("second vehicle: %v, want %s", err, ReasonTooManyAGVs)
	}
	if _, _, err := d.decode(nil, nil, "uagv/v2/other/a/state", []byte(`{}`), now); uns.ReasonOf(err) != ReasonUnmatched {
		t.Errorf("other manufacturer: %v, want %s", err, ReasonUnmatched)
	}
	d = testDecoder(t, func(c *Config) {
		c.Asset = "s/{serial_number}/" + strings.Repeat("x", 60) + "/" + strings.Repeat("y", 60) + "/" + strings.Repeat("z", 60)
	})
	if _, _, err := d.decode(nil, nil, "uagv/v2/m/"+strings.Repeat("s", 60)+"/state", []byte(`{}`), now); uns.ReasonOf(err) != uns.ReasonInvalidPath {
		t.Errorf("long serial: %v, want %s", err, uns.ReasonInvalidPath)
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"AGV-7":                 "AGV-7",
		"Kivo Robotics":         "Kivo_Robotics",
		".hidden":               "_hidden",
		"a.b_c":                 "a.b_c",
		"Förder$":               "F__rder_",
		strings.Repeat("x", 70): strings.Repeat("x", 64),
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDecode feeds arbitrary topics and payloads (what any client of the
// broker may publish) through the decoder: nothing panics, a rejected
// message leaves nothing behind and has a reason, and an accepted one gives
// valid points and events.
func FuzzDecode(f *testing.F) {
	f.Add(stateTopic, []byte(fullState))
	f.Add("uagv/v2/m/s/connection", []byte(`{"timestamp":"2024-05-01T12:00:00Z","connectionState":"CONNECTIONBROKEN"}`))
	f.Add("uagv/v2/m/s/visualization", []byte(`{"agvPosition":{"x":1e308,"y":-0,"theta":0}}`))
	f.Add(stateTopic, []byte(`{"errors":[{"errorType":"a","errorLevel":"FATAL","errorReferences":[{"referenceKey":"k","referenceValue":"v"}]}],"loads":[]}`))
	f.Add(stateTopic, []byte(`{"driving":"yes"}`))
	f.Add("uagv/v2/+/#/state", []byte(`null`))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		d := testDecoder(t, nil)
		for range 2 { // twice: the second sees the first's snapshot
			pts, evs, err := d.decode(nil, nil, topic, payload, now)
			if err != nil {
				if uns.ReasonOf(err) == "" {
					t.Fatalf("error without a reason: %v", err)
				}
				if len(pts) != 0 || len(evs) != 0 {
					t.Fatalf("rejected (%v) with %d points, %d events", err, len(pts), len(evs))
				}
				return
			}
			for _, p := range pts {
				if err := uns.ValidatePath(p.Series); err != nil {
					t.Fatalf("point %+v: %v", p, err)
				}
				if p.Value.Kind() == uns.KindInvalid || p.TS < minTS || p.TS > maxTS+MaxErrors {
					t.Fatalf("point %+v: invalid value or time", p)
				}
				if p.Value.Kind() == uns.KindString && len(p.Value.Str()) > MaxString {
					t.Fatalf("point %+v: string over %d bytes", p, MaxString)
				}
			}
			for _, e := range evs {
				if err := uns.ValidateEvent(e); err != nil {
					t.Fatalf("event %+v: %v", e, err)
				}
			}
		}
	})
}
