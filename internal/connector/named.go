package connector

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ParseNamed parses inputs given by name, each the JSON of one entry of an
// inputs file ({"modbus": {…}}), as the hub's desired state holds them
// (docs/fleet.md), in name order; each one's Path is "inputs.<name>", and
// errors name it ("inputs.press.modbus.unit_id: …").
func ParseNamed(byName map[string][]byte) ([]Configured, error) {
	names := slices.Sorted(maps.Keys(byName))
	list := make([]json.RawMessage, len(names))
	for i, name := range names {
		if !json.Valid(byName[name]) {
			return nil, fmt.Errorf("inputs.%s: not JSON", name)
		}
		list[i] = byName[name]
	}
	doc, _ := json.Marshal(map[string]any{"inputs": list})
	ins, err := ParseInputs(doc)
	if err != nil {
		msg := err.Error()
		for i := len(names) - 1; i >= 0; i-- {
			msg = strings.ReplaceAll(msg, fmt.Sprintf("inputs[%d]", i), "inputs."+names[i])
		}
		return nil, fmt.Errorf("%s", msg)
	}
	for i := range ins {
		ins[i].Path = "inputs." + names[i]
	}
	return ins, nil
}
