package sim

import (
	"time"

	"github.com/molen-io/molen/internal/connector/mtconnect/mtconnecttest"
	"github.com/molen-io/molen/internal/uns"
)

// MTConnect names of the simulated mill: the agent's device, and the
// condition data item that is a Fault while the mill is down.
const (
	MTConnectDevice    = "cnc-mill"
	MTConnectCondition = "system"
	mtconnectBuffer    = 4096 // observations the agent keeps: minutes of ticks
)

// mtconnectItems returns the data items of the mill's agent: one per tag
// (id and name are the tag; counters and seq are events, the state is the
// Execution-like event "state", the rest samples) and the system condition.
func mtconnectItems(k *kind) []mtconnecttest.DataItem {
	var out []mtconnecttest.DataItem
	for _, tag := range k.tags() {
		it := mtconnecttest.DataItem{ID: tag, Name: tag, Category: mtconnecttest.Sample, Type: mtconnectElements[tag], Component: "controller"}
		switch tag {
		case tagState, tagGood, tagScrap, tagSeq:
			it.Category = mtconnecttest.Event
		}
		if it.Type == "" {
			it.Type = "Sample"
		}
		out = append(out, it)
	}
	return append(out, mtconnecttest.DataItem{
		ID: MTConnectCondition, Name: MTConnectCondition, Category: mtconnecttest.Condition, Type: "SYSTEM", Component: "controller",
	})
}

// mtconnectElements are the MTConnect types (element names) of the mill's
// tags. The state keeps the simulator's values (running, idle, setup, down),
// not Execution's vocabulary, so that it reaches the same series as over
// MQTT; seq has no MTConnect meaning and counts like a part count.
var mtconnectElements = map[string]string{
	tagState: "Execution", tagGood: "PartCount", tagScrap: "PartCount", tagSeq: "PartCount",
	tagCycle: "ProcessTimer", "spindle_speed_rpm": "RotaryVelocity", "spindle_temp_c": "Temperature",
	"vibration_mm_s": "Velocity", "coolant_pressure_bar": "Pressure", tagPower: "Wattage", tagEnergy: "ElectricalEnergy",
}

// mtconnectType is the item type the inputs file gives a tag.
func mtconnectType(tag string) string {
	switch tag {
	case tagState:
		return "string"
	case tagGood, tagScrap, tagSeq:
		return "int"
	}
	return "float"
}

// publishMTConnect records the mill's values of its last tick in its
// agent, all at now (an adapter sends one line per tick), and its system
// condition when the mill goes down or comes back.
func (s *Server) publishMTConnect(now time.Time) {
	m := s.mill
	vals := m.tagValues(nil)
	obs := make([]mtconnecttest.Value, len(vals))
	for i, tv := range vals {
		obs[i] = mtconnecttest.Value{ID: tv.tag, Value: text(tv.value)}
	}
	s.agent.Update(now, obs...)
	if isDown := m.state == down; isDown != s.millDown {
		s.millDown = isDown
		if isDown {
			s.agent.SetCondition(MTConnectCondition, mtconnecttest.Fault, "DOWN", "machine down")
		} else {
			s.agent.SetCondition(MTConnectCondition, mtconnecttest.Normal, "", "")
		}
	}
}

// text is a value as an MTConnect adapter sends it.
func text(v uns.Value) string {
	if v.Kind() == uns.KindString {
		return v.Str()
	}
	return v.String()
}
