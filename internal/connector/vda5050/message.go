package vda5050

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/uns"
)

// The VDA 5050 topics the input reads. order, instantActions and factsheet
// are not subscribed to.
const (
	TopicState         = "state"
	TopicConnection    = "connection"
	TopicVisualization = "visualization"
)

// The connection states of the connection topic.
const (
	Online           = "ONLINE"
	Offline          = "OFFLINE"
	ConnectionBroken = "CONNECTIONBROKEN"
)

// Reasons under which Status.Rejected counts messages, besides uns's
// not_json, wrong_type, oversized, bad_timestamp and invalid_path.
const (
	// ReasonBadValue: a field of the right type with a value VDA 5050 does
	// not allow (an unknown connectionState or errorLevel, an empty
	// errorType).
	ReasonBadValue = "bad_value"
	// ReasonUnmatched: a topic that is not a subscribed VDA 5050 topic of
	// a selected vehicle (left in a persistent session by an older config).
	ReasonUnmatched = "unmatched_topic"
	// ReasonTooManyAGVs: a message of a vehicle beyond max_agvs.
	ReasonTooManyAGVs = "too_many_agvs"
)

// Limits on one message, beyond max_payload. A message over one is
// rejected whole as oversized.
const (
	MaxLoads      = 1000 // entries of loads
	MaxErrors     = 1000 // entries of errors
	MaxReferences = 100  // errorReferences of one error
	MaxString     = 256  // bytes of a string that becomes a point value
)

// The tags of a vehicle's asset.
const (
	TagPositionX           = "position_x"
	TagPositionY           = "position_y"
	TagTheta               = "theta"
	TagMapID               = "map_id"
	TagPositionInitialized = "position_initialized"
	TagLocalizationScore   = "localization_score"
	TagVelocityVx          = "velocity_vx"
	TagVelocityVy          = "velocity_vy"
	TagVelocityOmega       = "velocity_omega"
	TagBatteryCharge       = "battery_charge"
	TagBatteryVoltage      = "battery_voltage"
	TagBatteryHealth       = "battery_health"
	TagCharging            = "charging"
	TagDriving             = "driving"
	TagPaused              = "paused"
	TagOperatingMode       = "operating_mode"
	TagLoadCount           = "load_count"
	TagLoadsWeight         = "loads_weight"
	TagErrorCount          = "error_count"
	TagErrorFatal          = "error_fatal"
	TagError               = "error"
	TagEStop               = "e_stop"
	TagFieldViolation      = "field_violation"
	TagConnectionState     = "connection_state"
	TagLastNodeID          = "last_node_id"
	TagOrderID             = "order_id"

	longestTag = TagPositionInitialized
)

// tag indexes a vehicle's precomputed series names.
type tag uint8

const (
	tPositionX tag = iota
	tPositionY
	tTheta
	tMapID
	tPositionInitialized
	tLocalizationScore
	tVelocityVx
	tVelocityVy
	tVelocityOmega
	tBatteryCharge
	tBatteryVoltage
	tBatteryHealth
	tCharging
	tDriving
	tPaused
	tOperatingMode
	tLoadCount
	tLoadsWeight
	tErrorCount
	tErrorFatal
	tError
	tEStop
	tFieldViolation
	tConnectionState
	tLastNodeID
	tOrderID
	numTags
)

var tagNames = [numTags]string{
	TagPositionX, TagPositionY, TagTheta, TagMapID, TagPositionInitialized, TagLocalizationScore,
	TagVelocityVx, TagVelocityVy, TagVelocityOmega,
	TagBatteryCharge, TagBatteryVoltage, TagBatteryHealth, TagCharging,
	TagDriving, TagPaused, TagOperatingMode,
	TagLoadCount, TagLoadsWeight,
	TagErrorCount, TagErrorFatal, TagError,
	TagEStop, TagFieldViolation, TagConnectionState, TagLastNodeID, TagOrderID,
}

// The JSON of the messages, as far as the input reads them. Pointers tell
// a field that is absent (or null) from a zero one; absent fields give no
// point. Unknown fields are ignored: VDA 5050 allows extensions.
type (
	stateMsg struct {
		Timestamp     *string    `json:"timestamp"`
		OrderID       *string    `json:"orderId"`
		LastNodeID    *string    `json:"lastNodeId"`
		Driving       *bool      `json:"driving"`
		Paused        *bool      `json:"paused"`
		OperatingMode *string    `json:"operatingMode"`
		AGVPosition   *position  `json:"agvPosition"`
		Velocity      *velocity  `json:"velocity"`
		BatteryState  *battery   `json:"batteryState"`
		Loads         []load     `json:"loads"` // nil: absent, the vehicle cannot tell
		Errors        []vdaError `json:"errors"`
		SafetyState   *safety    `json:"safetyState"`
	}
	visualizationMsg struct {
		Timestamp   *string   `json:"timestamp"`
		AGVPosition *position `json:"agvPosition"`
		Velocity    *velocity `json:"velocity"`
	}
	connectionMsg struct {
		Timestamp       *string `json:"timestamp"`
		ConnectionState *string `json:"connectionState"`
	}
	position struct {
		X                   *float64 `json:"x"`
		Y                   *float64 `json:"y"`
		Theta               *float64 `json:"theta"`
		MapID               *string  `json:"mapId"`
		PositionInitialized *bool    `json:"positionInitialized"`
		LocalizationScore   *float64 `json:"localizationScore"`
	}
	velocity struct {
		Vx    *float64 `json:"vx"`
		Vy    *float64 `json:"vy"`
		Omega *float64 `json:"omega"`
	}
	battery struct {
		BatteryCharge  *float64 `json:"batteryCharge"`
		BatteryVoltage *float64 `json:"batteryVoltage"`
		BatteryHealth  *float64 `json:"batteryHealth"`
		Charging       *bool    `json:"charging"`
	}
	load struct {
		Weight *float64 `json:"weight"`
	}
	vdaError struct {
		ErrorType        string         `json:"errorType"`
		ErrorLevel       string         `json:"errorLevel"`
		ErrorDescription string         `json:"errorDescription"`
		ErrorReferences  []errReference `json:"errorReferences"`
	}
	errReference struct {
		ReferenceKey   string `json:"referenceKey"`
		ReferenceValue string `json:"referenceValue"`
	}
	safety struct {
		EStop          *string `json:"eStop"`
		FieldViolation *bool   `json:"fieldViolation"`
	}
)

// bounds (1970 .. 2200) of accepted timestamps, as uns.Decode's.
var (
	minTS = int64(0)
	maxTS = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

func rejectf(reason, format string, args ...any) error {
	return &uns.RejectError{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// unmarshal decodes a JSON object into v, classifying its errors.
func unmarshal(payload []byte, maxPayload int, v any) error {
	if len(payload) > maxPayload {
		return rejectf(uns.ReasonOversized, "payload of %d bytes, limit %d", len(payload), maxPayload)
	}
	// Only an object is a message; json.Unmarshal would take null for one.
	if t := strings.TrimLeft(string(payload[:min(len(payload), 64)]), " \t\r\n"); !strings.HasPrefix(t, "{") {
		if json.Valid(payload) {
			return rejectf(uns.ReasonWrongType, "payload is not a JSON object")
		}
		return rejectf(uns.ReasonNotJSON, "payload %.32q… is not JSON", payload)
	}
	err := json.Unmarshal(payload, v)
	if err == nil {
		return nil
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return rejectf(uns.ReasonWrongType, "%s: %s where VDA 5050 has %s", te.Field, te.Value, te.Type)
	}
	return rejectf(uns.ReasonNotJSON, "%v", err)
}

// timestamp parses a message's ISO 8601 timestamp into unix ns; now when
// absent. A time without a zone is taken as UTC.
func timestamp(s *string, now int64) (int64, error) {
	if s == nil {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		var err2 error
		if t, err2 = time.Parse("2006-01-02T15:04:05", *s); err2 != nil {
			return 0, rejectf(uns.ReasonBadTS, "timestamp %.64q: want ISO 8601 as 2024-05-01T12:00:00.000Z", *s)
		}
	}
	ts := t.UnixNano()
	if t.Year() < 1970 || t.Year() >= 2200 || ts < minTS || ts >= maxTS {
		return 0, rejectf(uns.ReasonBadTS, "timestamp %.64q: outside 1970..2200", *s)
	}
	return ts, nil
}

// checkString bounds a string that becomes a point value.
func checkString(field string, s *string) error {
	if s != nil && len(*s) > MaxString {
		return rejectf(uns.ReasonOversized, "%s: %d bytes, limit %d", field, len(*s), MaxString)
	}
	return nil
}

// check applies the limits and allowed values to a decoded state.
func (m *stateMsg) check() error {
	if len(m.Loads) > MaxLoads {
		return rejectf(uns.ReasonOversized, "loads: %d entries, limit %d", len(m.Loads), MaxLoads)
	}
	if len(m.Errors) > MaxErrors {
		return rejectf(uns.ReasonOversized, "errors: %d entries, limit %d", len(m.Errors), MaxErrors)
	}
	for i := range m.Errors {
		e := &m.Errors[i]
		switch {
		case e.ErrorType == "":
			return rejectf(ReasonBadValue, "errors[%d].errorType: empty", i)
		case len(e.ErrorType) > MaxString:
			return rejectf(uns.ReasonOversized, "errors[%d].errorType: %d bytes, limit %d", i, len(e.ErrorType), MaxString)
		case e.ErrorLevel != "WARNING" && e.ErrorLevel != "FATAL":
			return rejectf(ReasonBadValue, "errors[%d].errorLevel %.32q: want WARNING or FATAL", i, e.ErrorLevel)
		case len(e.ErrorReferences) > MaxReferences:
			return rejectf(uns.ReasonOversized, "errors[%d].errorReferences: %d entries, limit %d", i, len(e.ErrorReferences), MaxReferences)
		}
	}
	if err := checkString("orderId", m.OrderID); err != nil {
		return err
	}
	if err := checkString("lastNodeId", m.LastNodeID); err != nil {
		return err
	}
	if err := checkString("operatingMode", m.OperatingMode); err != nil {
		return err
	}
	if m.SafetyState != nil {
		if err := checkString("safetyState.eStop", m.SafetyState.EStop); err != nil {
			return err
		}
	}
	if m.AGVPosition != nil {
		return checkString("agvPosition.mapId", m.AGVPosition.MapID)
	}
	return nil
}

// checkConnection checks a decoded connection message.
func (m *connectionMsg) check() error {
	if m.ConnectionState == nil {
		return rejectf(ReasonBadValue, "connectionState: missing")
	}
	switch *m.ConnectionState {
	case Online, Offline, ConnectionBroken:
		return nil
	}
	return rejectf(ReasonBadValue, "connectionState %.32q: want ONLINE, OFFLINE or CONNECTIONBROKEN", *m.ConnectionState)
}
