package vda5050test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Publisher publishes one MQTT message; *Broker and mochi's server are
// Publishers.
type Publisher interface {
	Publish(topic string, payload []byte, retain bool, qos byte) error
}

// Node is a stop on an AGV's route.
type Node struct {
	ID      string
	X, Y    float64 // metres
	Charger bool    // the AGV charges here when its battery is low
	Load    bool    // the AGV picks up a load here, or drops the one it has
}

// Error is an entry of a state's errors.
type Error struct {
	Type        string // errorType
	Level       string // WARNING or FATAL
	Description string
	Until       time.Duration // of simulated time left before it clears by itself; 0: stays until cleared
}

// Load is a load the AGV carries.
type Load struct {
	ID     string
	Type   string
	Weight float64 // kg
}

// AGV is a small simulated vehicle: it drives around its route, drains its
// battery while driving and charges at a charger when low, carries loads
// between load nodes and now and then reports an error that clears after a
// while. Its fields are its state; tests may set them directly. An AGV is
// not safe for concurrent use.
type AGV struct {
	Interface, Version         string // topic levels; "uagv", "v2"
	Manufacturer, SerialNumber string
	MapID                      string
	Route                      []Node
	Speed                      float64 // m/s
	ErrorRate                  float64 // new errors per simulated second

	X, Y, Theta    float64
	Vx, Omega      float64
	Battery        float64 // %
	Charging       bool
	Driving        bool
	Paused         bool
	OperatingMode  string
	OrderID        string
	LastNodeID     string
	Loads          []Load
	Errors         []Error
	EStop          string
	FieldViolation bool
	Connection     string // ONLINE, OFFLINE, CONNECTIONBROKEN

	next    int // index in Route of the node driven to
	loadSeq int
	orders  int
	headers map[string]int
	rng     *rand.Rand
}

// NewAGV returns an AGV at the first node of a square route of 20 m with
// a charger and two load stations, its battery at 80%; seed makes its
// errors reproducible.
func NewAGV(manufacturer, serial string, seed uint64) *AGV {
	a := &AGV{
		Interface: "uagv", Version: "v2",
		Manufacturer: manufacturer, SerialNumber: serial,
		MapID: "hall-a",
		Route: []Node{
			{ID: "charger", X: 0, Y: 0, Charger: true},
			{ID: "pick", X: 20, Y: 0, Load: true},
			{ID: "aisle", X: 20, Y: 20},
			{ID: "drop", X: 0, Y: 20, Load: true},
		},
		Speed:         1.5,
		ErrorRate:     0.002,
		Battery:       80,
		OperatingMode: "AUTOMATIC",
		EStop:         "NONE",
		Connection:    "ONLINE",
		next:          1,
		headers:       map[string]int{},
		rng:           rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	a.LastNodeID = a.Route[0].ID
	a.OrderID = "order-1"
	return a
}

// Step advances the simulation by dt.
func (a *AGV) Step(dt time.Duration) {
	s := dt.Seconds()
	a.expireErrors(dt)
	if a.rng.Float64() < a.ErrorRate*s {
		a.Errors = append(a.Errors, Error{
			Type: "obstacleDetected", Level: "WARNING",
			Description: "object in the protective field",
			Until:       time.Duration(5+a.rng.IntN(20)) * time.Second,
		})
	}
	fatal := false
	for _, e := range a.Errors {
		fatal = fatal || e.Level == "FATAL"
	}
	switch {
	case a.Charging:
		a.Driving, a.Vx, a.Omega = false, 0, 0
		a.Battery = min(100, a.Battery+0.5*s)
		if a.Battery >= 95 {
			a.Charging = false
		}
		return
	case fatal || a.Paused || len(a.Route) < 2:
		a.Driving, a.Vx, a.Omega = false, 0, 0
		a.Battery = max(0, a.Battery-0.01*s)
		return
	}
	to := a.Route[a.next]
	dx, dy := to.X-a.X, to.Y-a.Y
	dist := math.Hypot(dx, dy)
	step := a.Speed * s
	a.Driving = true
	a.Battery = max(0, a.Battery-0.05*s)
	theta := math.Atan2(dy, dx)
	a.Omega = 0
	if s > 0 {
		a.Omega = angleDiff(theta, a.Theta) / s
	}
	a.Theta = theta
	if step < dist {
		a.X += dx / dist * step
		a.Y += dy / dist * step
		a.Vx = a.Speed
		return
	}
	a.X, a.Y, a.Vx = to.X, to.Y, 0
	a.LastNodeID = to.ID
	a.next = (a.next + 1) % len(a.Route)
	if a.next == 1 {
		a.orders++
		a.OrderID = fmt.Sprintf("order-%d", a.orders+1)
	}
	if to.Load {
		if len(a.Loads) > 0 {
			a.Loads = a.Loads[:0]
		} else {
			a.loadSeq++
			a.Loads = append(a.Loads, Load{ID: fmt.Sprintf("pallet-%d", a.loadSeq), Type: "EPAL", Weight: 100 + float64(a.rng.IntN(400))})
		}
	}
	if to.Charger && a.Battery < 30 {
		a.Charging, a.Driving = true, false
	}
}

func (a *AGV) expireErrors(dt time.Duration) {
	kept := a.Errors[:0]
	for _, e := range a.Errors {
		if e.Until > 0 {
			if e.Until -= dt; e.Until <= 0 {
				continue
			}
		}
		kept = append(kept, e)
	}
	a.Errors = kept
}

func angleDiff(a, b float64) float64 {
	d := math.Mod(a-b+math.Pi, 2*math.Pi)
	if d < 0 {
		d += 2 * math.Pi
	}
	return d - math.Pi
}

// Topic returns the VDA 5050 topic of the AGV for state, connection,
// visualization, ….
func (a *AGV) Topic(topic string) string {
	return a.Interface + "/" + a.Version + "/" + a.Manufacturer + "/" + a.SerialNumber + "/" + topic
}

// Timestamp formats t as VDA 5050 does (ISO 8601, UTC, milliseconds).
func Timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func (a *AGV) header(topic string, now time.Time) header {
	a.headers[topic]++
	return header{
		HeaderID: a.headers[topic], Timestamp: Timestamp(now), Version: "2.0.0",
		Manufacturer: a.Manufacturer, SerialNumber: a.SerialNumber,
	}
}

// The JSON of the messages, written independently of the input's decoder.
type (
	header struct {
		HeaderID     int    `json:"headerId"`
		Timestamp    string `json:"timestamp"`
		Version      string `json:"version"`
		Manufacturer string `json:"manufacturer"`
		SerialNumber string `json:"serialNumber"`
	}
	position struct {
		X                   float64 `json:"x"`
		Y                   float64 `json:"y"`
		Theta               float64 `json:"theta"`
		MapID               string  `json:"mapId"`
		PositionInitialized bool    `json:"positionInitialized"`
		LocalizationScore   float64 `json:"localizationScore"`
	}
	velocity struct {
		Vx    float64 `json:"vx"`
		Vy    float64 `json:"vy"`
		Omega float64 `json:"omega"`
	}
	battery struct {
		BatteryCharge  float64 `json:"batteryCharge"`
		BatteryVoltage float64 `json:"batteryVoltage"`
		BatteryHealth  int     `json:"batteryHealth"`
		Charging       bool    `json:"charging"`
		Reach          int     `json:"reach"`
	}
	loadJSON struct {
		LoadID   string  `json:"loadId"`
		LoadType string  `json:"loadType"`
		Weight   float64 `json:"weight"`
	}
	errorJSON struct {
		ErrorType        string `json:"errorType"`
		ErrorLevel       string `json:"errorLevel"`
		ErrorDescription string `json:"errorDescription,omitempty"`
		ErrorReferences  []struct {
			ReferenceKey   string `json:"referenceKey"`
			ReferenceValue string `json:"referenceValue"`
		} `json:"errorReferences"`
	}
	safety struct {
		EStop          string `json:"eStop"`
		FieldViolation bool   `json:"fieldViolation"`
	}
	stateJSON struct {
		header
		OrderID               string      `json:"orderId"`
		OrderUpdateID         int         `json:"orderUpdateId"`
		LastNodeID            string      `json:"lastNodeId"`
		LastNodeSequenceID    int         `json:"lastNodeSequenceId"`
		Driving               bool        `json:"driving"`
		Paused                bool        `json:"paused"`
		NewBaseRequest        bool        `json:"newBaseRequest"`
		OperatingMode         string      `json:"operatingMode"`
		NodeStates            []any       `json:"nodeStates"`
		EdgeStates            []any       `json:"edgeStates"`
		ActionStates          []any       `json:"actionStates"`
		AGVPosition           position    `json:"agvPosition"`
		Velocity              velocity    `json:"velocity"`
		BatteryState          battery     `json:"batteryState"`
		Loads                 []loadJSON  `json:"loads"`
		Errors                []errorJSON `json:"errors"`
		Information           []any       `json:"information"`
		SafetyState           safety      `json:"safetyState"`
		DistanceSinceLastNode float64     `json:"distanceSinceLastNode"`
	}
	visualizationJSON struct {
		header
		AGVPosition position `json:"agvPosition"`
		Velocity    velocity `json:"velocity"`
	}
	connectionJSON struct {
		header
		ConnectionState string `json:"connectionState"`
	}
)

func (a *AGV) position() position {
	return position{X: a.X, Y: a.Y, Theta: a.Theta, MapID: a.MapID, PositionInitialized: true, LocalizationScore: 0.95}
}

func (a *AGV) velocity() velocity {
	return velocity{Vx: a.Vx, Omega: a.Omega}
}

// State returns the AGV's state message at now.
func (a *AGV) State(now time.Time) []byte {
	m := stateJSON{
		header:  a.header("state", now),
		OrderID: a.OrderID, LastNodeID: a.LastNodeID,
		Driving: a.Driving, Paused: a.Paused, OperatingMode: a.OperatingMode,
		NodeStates: []any{}, EdgeStates: []any{}, ActionStates: []any{}, Information: []any{},
		AGVPosition: a.position(), Velocity: a.velocity(),
		BatteryState: battery{
			BatteryCharge: math.Round(a.Battery*10) / 10, BatteryVoltage: 48 + a.Battery/50,
			BatteryHealth: 97, Charging: a.Charging, Reach: int(a.Battery * 100),
		},
		Loads:       []loadJSON{},
		Errors:      []errorJSON{},
		SafetyState: safety{EStop: a.EStop, FieldViolation: a.FieldViolation},
	}
	for _, l := range a.Loads {
		m.Loads = append(m.Loads, loadJSON{LoadID: l.ID, LoadType: l.Type, Weight: l.Weight})
	}
	for _, e := range a.Errors {
		m.Errors = append(m.Errors, errorJSON{ErrorType: e.Type, ErrorLevel: e.Level, ErrorDescription: e.Description})
	}
	return marshal(m)
}

// Visualization returns the AGV's visualization message at now.
func (a *AGV) Visualization(now time.Time) []byte {
	return marshal(visualizationJSON{header: a.header("visualization", now), AGVPosition: a.position(), Velocity: a.velocity()})
}

// ConnectionMessage returns the AGV's connection message at now, with its
// Connection.
func (a *AGV) ConnectionMessage(now time.Time) []byte {
	return marshal(connectionJSON{header: a.header("connection", now), ConnectionState: a.Connection})
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("vda5050test: %v", err)) // only plain fields: cannot fail
	}
	return b
}

// Publish publishes the AGV's message of topic (state, visualization or
// connection) at now. VDA 5050 publishes state and visualization with QoS
// 0 and connection with QoS 1, retained; tests that must not lose a message
// pass qos 1.
func (a *AGV) Publish(p Publisher, topic string, now time.Time, qos byte) error {
	var payload []byte
	retain := false
	switch topic {
	case "state":
		payload = a.State(now)
	case "visualization":
		payload = a.Visualization(now)
	case "connection":
		payload, retain = a.ConnectionMessage(now), true
	default:
		return fmt.Errorf("vda5050test: topic %q: want state, visualization or connection", topic)
	}
	return p.Publish(a.Topic(topic), payload, retain, qos)
}
