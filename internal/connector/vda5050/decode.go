package vda5050

import (
	"strings"

	"github.com/molen-io/molen/internal/uns"
)

// decoder turns messages into points (and events), keeping what it knows
// of each vehicle. It is used by one goroutine at a time.
type decoder struct {
	iface, version string
	visualization  bool
	mfrs, serials  map[string]bool // nil: any
	asset          template
	maxPayload     int
	maxAGVs        int
	events         bool // derive events

	vehicles map[string]*vehicle // by "manufacturer/serialNumber" as in the topic
}

// vehicle is one AGV: its series names, computed once, and its snapshot.
type vehicle struct {
	series [numTags]string
	snap   Snapshot
}

func newDecoder(c *Config, cc *compiled) *decoder {
	return &decoder{
		iface:         c.InterfaceName,
		version:       c.MajorVersion,
		visualization: c.Visualization,
		mfrs:          cc.mfrs,
		serials:       cc.serials,
		asset:         cc.asset,
		maxPayload:    c.MaxPayload,
		maxAGVs:       c.MaxAGVs,
		vehicles:      make(map[string]*vehicle),
	}
}

// decode appends to pts the points of the message on topic, and to evs its
// events if the decoder derives them. now (unix ns) stamps a message
// without a timestamp. On error pts and evs are returned unchanged, the
// error is a *uns.RejectError, and nothing of the message is kept.
func (d *decoder) decode(pts []uns.Point, evs []uns.Event, topic string, payload []byte, now int64) ([]uns.Point, []uns.Event, error) {
	// <interface>/<version>/<manufacturer>/<serialNumber>/<topic>
	iface, rest, _ := strings.Cut(topic, "/")
	version, rest, _ := strings.Cut(rest, "/")
	mfr, rest, _ := strings.Cut(rest, "/")
	serial, kind, ok := strings.Cut(rest, "/")
	if !ok || iface != d.iface || version != d.version || mfr == "" || serial == "" ||
		d.mfrs != nil && !d.mfrs[mfr] || d.serials != nil && !d.serials[serial] {
		return pts, evs, rejectf(ReasonUnmatched, "topic %.128q: not %s/%s/<manufacturer>/<serialNumber>/<topic> of a selected vehicle", topic, d.iface, d.version)
	}
	switch kind {
	case TopicState, TopicConnection:
	case TopicVisualization:
		if !d.visualization {
			return pts, evs, rejectf(ReasonUnmatched, "topic %.128q: visualization is off", topic)
		}
	default:
		return pts, evs, rejectf(ReasonUnmatched, "topic %.128q: not state, connection or visualization", topic)
	}

	// Decode before looking the vehicle up, so that a flood of garbage
	// on new serial numbers creates no vehicles.
	var (
		st  stateMsg
		vis visualizationMsg
		con connectionMsg
		err error
		ts  int64
	)
	switch kind {
	case TopicState:
		if err = unmarshal(payload, d.maxPayload, &st); err == nil {
			if err = st.check(); err == nil {
				ts, err = timestamp(st.Timestamp, now)
			}
		}
	case TopicVisualization:
		if err = unmarshal(payload, d.maxPayload, &vis); err == nil {
			if vis.AGVPosition != nil {
				err = checkString("agvPosition.mapId", vis.AGVPosition.MapID)
			}
			if err == nil {
				ts, err = timestamp(vis.Timestamp, now)
			}
		}
	case TopicConnection:
		if err = unmarshal(payload, d.maxPayload, &con); err == nil {
			if err = con.check(); err == nil {
				ts, err = timestamp(con.Timestamp, now)
			}
		}
	}
	if err != nil {
		return pts, evs, err
	}
	v, err := d.vehicle(mfr, serial)
	if err != nil {
		return pts, evs, err
	}

	add := func(t tag, val uns.Value) {
		pts = append(pts, uns.Point{Series: v.series[t], TS: ts, Value: val})
	}
	switch kind {
	case TopicVisualization:
		pts = v.motion(pts, vis.AGVPosition, vis.Velocity, ts)
	case TopicConnection:
		next := v.snap
		next.TS = ts
		if next.Connection != *con.ConnectionState {
			next.Connection, next.ConnectionSince = *con.ConnectionState, ts
		}
		add(tConnectionState, uns.String(next.Connection))
		if d.events {
			evs = append(evs, Events(v.snap, next)...)
		}
		v.snap = next
	case TopicState:
		pts = v.motion(pts, st.AGVPosition, st.Velocity, ts)
		if b := st.BatteryState; b != nil {
			addFloat(&pts, v, tBatteryCharge, b.BatteryCharge, ts)
			addFloat(&pts, v, tBatteryVoltage, b.BatteryVoltage, ts)
			addFloat(&pts, v, tBatteryHealth, b.BatteryHealth, ts)
			addBool(&pts, v, tCharging, b.Charging, ts)
		}
		addBool(&pts, v, tDriving, st.Driving, ts)
		addBool(&pts, v, tPaused, st.Paused, ts)
		addString(&pts, v, tOperatingMode, st.OperatingMode, ts)
		addString(&pts, v, tOrderID, st.OrderID, ts)
		addString(&pts, v, tLastNodeID, st.LastNodeID, ts)
		if st.Loads != nil {
			weight := 0.0
			for _, l := range st.Loads {
				if l.Weight != nil {
					weight += *l.Weight
				}
			}
			add(tLoadCount, uns.Int(int64(len(st.Loads))))
			add(tLoadsWeight, uns.Float(weight))
		}
		if s := st.SafetyState; s != nil {
			addString(&pts, v, tEStop, s.EStop, ts)
			addBool(&pts, v, tFieldViolation, s.FieldViolation, ts)
		}
		next := v.snap
		next.TS = ts
		var added int
		next.Errors, added = nextErrors(v.snap.Errors, st.Errors, ts)
		fatal := false
		for _, e := range next.Errors {
			fatal = fatal || e.Level == "FATAL"
		}
		add(tErrorCount, uns.Int(int64(len(next.Errors))))
		add(tErrorFatal, uns.Bool(fatal))
		if added > 0 {
			// One point per new error, at its Since: errors new in one
			// state are a nanosecond apart, so none overwrites another.
			for _, e := range next.Errors {
				if !holds(v.snap.Errors, e) {
					pts = append(pts, uns.Point{Series: v.series[tError], TS: e.Since, Value: uns.String(e.Type)})
				}
			}
		}
		if d.events {
			evs = append(evs, Events(v.snap, next)...)
		}
		v.snap = next
	}
	return pts, evs, nil
}

// vehicle returns the vehicle of a topic's names, adding it if there is
// room.
func (d *decoder) vehicle(mfr, serial string) (*vehicle, error) {
	key := mfr + "/" + serial
	if v, ok := d.vehicles[key]; ok {
		return v, nil
	}
	if len(d.vehicles) >= d.maxAGVs {
		return nil, rejectf(ReasonTooManyAGVs, "vehicle %.64q/%.64q: already %d vehicles (max_agvs)", mfr, serial, d.maxAGVs)
	}
	asset := d.asset.apply(mfr, serial)
	if err := uns.ValidatePath(asset + "/" + longestTag); err != nil {
		return nil, rejectf(uns.ReasonInvalidPath, "vehicle %.64q/%.64q: asset: %v", mfr, serial, err)
	}
	v := &vehicle{snap: Snapshot{Asset: asset}}
	for t, name := range tagNames {
		v.series[t] = asset + "/" + name
	}
	d.vehicles[key] = v
	return v, nil
}

// motion appends the points of a position and a velocity.
func (v *vehicle) motion(pts []uns.Point, p *position, vel *velocity, ts int64) []uns.Point {
	if p != nil {
		addFloat(&pts, v, tPositionX, p.X, ts)
		addFloat(&pts, v, tPositionY, p.Y, ts)
		addFloat(&pts, v, tTheta, p.Theta, ts)
		addString(&pts, v, tMapID, p.MapID, ts)
		addBool(&pts, v, tPositionInitialized, p.PositionInitialized, ts)
		addFloat(&pts, v, tLocalizationScore, p.LocalizationScore, ts)
	}
	if vel != nil {
		addFloat(&pts, v, tVelocityVx, vel.Vx, ts)
		addFloat(&pts, v, tVelocityVy, vel.Vy, ts)
		addFloat(&pts, v, tVelocityOmega, vel.Omega, ts)
	}
	return pts
}

func addFloat(pts *[]uns.Point, v *vehicle, t tag, f *float64, ts int64) {
	if f != nil {
		*pts = append(*pts, uns.Point{Series: v.series[t], TS: ts, Value: uns.Float(*f)})
	}
}

func addBool(pts *[]uns.Point, v *vehicle, t tag, b *bool, ts int64) {
	if b != nil {
		*pts = append(*pts, uns.Point{Series: v.series[t], TS: ts, Value: uns.Bool(*b)})
	}
}

func addString(pts *[]uns.Point, v *vehicle, t tag, s *string, ts int64) {
	if s != nil {
		*pts = append(*pts, uns.Point{Series: v.series[t], TS: ts, Value: uns.String(*s)})
	}
}
