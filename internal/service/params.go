package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Params checks an install's parameters against the manifest's parameter
// schema, fills in defaults and returns them as the JSON object the
// module's Init receives. Errors name the parameter.
func (pkg *Package) Params(given map[string]any) ([]byte, error) {
	out := map[string]any{}
	var errs []error
	known := map[string]bool{}
	for _, p := range pkg.Molen.Parameters {
		known[p.Name] = true
		v, ok := given[p.Name]
		if !ok {
			if p.Required {
				errs = append(errs, fmt.Errorf("%s: required (%s)", p.Name, p.Label["en"]))
			} else if p.Default != nil {
				out[p.Name] = p.Default
			}
			continue
		}
		if err := p.check(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
			continue
		}
		out[p.Name] = v
	}
	for name := range given {
		if len(known) == 0 {
			errs = append(errs, fmt.Errorf("%s: unknown parameter (the service takes none)", name))
		} else if !known[name] {
			names := make([]string, 0, len(known))
			for k := range known {
				names = append(names, k)
			}
			slices.Sort(names)
			errs = append(errs, fmt.Errorf("%s: unknown parameter (want one of %s)", name, strings.Join(names, ", ")))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return json.Marshal(out)
}

func (p Parameter) check(v any) error {
	switch p.Type {
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%v: want a string", v)
		}
		return nil
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%v: want true or false", v)
		}
		return nil
	case "enum":
		s, _ := v.(string)
		if !slices.Contains(p.Enum, s) {
			return fmt.Errorf("%v: want one of %s", v, strings.Join(p.Enum, ", "))
		}
		return nil
	}
	var f float64
	switch n := v.(type) {
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case float64:
		f = n
	default:
		return fmt.Errorf("%v: want a number", v)
	}
	if p.Type == "integer" && f != math.Trunc(f) {
		return fmt.Errorf("%v: want an integer", v)
	}
	if p.Min != nil && f < *p.Min || p.Max != nil && f > *p.Max {
		return fmt.Errorf("%v: want %s", v, p.rangeText())
	}
	return nil
}

func (p Parameter) rangeText() string {
	switch {
	case p.Min != nil && p.Max != nil:
		return fmt.Sprintf("%g..%g", *p.Min, *p.Max)
	case p.Min != nil:
		return fmt.Sprintf(">= %g", *p.Min)
	}
	return fmt.Sprintf("<= %g", *p.Max)
}
