package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ParseNamed parses pipelines given by name, each the JSON (or YAML) of
// a pipeline entry without its name, as the hub's desired state holds
// them (docs/fleet.md): the definition has them in name order, each
// named by its key. Errors name the pipeline
// ("pipelines.line1.stages[0].window.size: …").
func ParseNamed(byName map[string][]byte) (*Definition, error) {
	names := slices.Sorted(maps.Keys(byName))
	entries := make([]map[string]json.RawMessage, 0, len(names))
	for _, name := range names {
		var entry map[string]json.RawMessage
		if err := json.Unmarshal(byName[name], &entry); err != nil || entry == nil {
			return nil, fmt.Errorf("pipelines.%s: want an object {match: [...], stages: [...]}", name)
		}
		if _, ok := entry["name"]; ok {
			return nil, fmt.Errorf("pipelines.%s.name: the pipeline is named by its key; leave name out", name)
		}
		entry["name"], _ = json.Marshal(name)
		entries = append(entries, entry)
	}
	doc, _ := json.Marshal(map[string]any{"pipelines": entries})
	def, err := Parse(doc)
	if err != nil {
		return nil, renameIndexes(err, "pipelines", names)
	}
	return def, nil
}

// renameIndexes turns "<list>[i]" in err's text into "<list>.<names[i]>".
func renameIndexes(err error, list string, names []string) error {
	msg := err.Error()
	for i := len(names) - 1; i >= 0; i-- {
		msg = strings.ReplaceAll(msg, fmt.Sprintf("%s[%d]", list, i), list+"."+names[i])
	}
	return errors.New(msg)
}
