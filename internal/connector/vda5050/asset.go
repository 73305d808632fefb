package vda5050

import (
	"fmt"
	"strings"

	"github.com/molen-io/molen/internal/uns"
)

// template is a compiled asset template: literal parts with {site} and
// {area} already filled in, and the vehicle's names between them.
type template struct {
	parts []tplPart
}

type tplPart struct {
	lit string
	ref byte // 0: literal; 'm': manufacturer; 's': serial number
}

// parseTemplate compiles an asset template with site and area filled in.
func parseTemplate(s, site, area string) (template, error) {
	if s == "" {
		return template{}, fmt.Errorf("required (default %q)", DefaultAsset)
	}
	var t template
	var probe strings.Builder // the path with every vehicle name as "x"
	serial := false
	for rest := s; rest != ""; {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			t.parts = append(t.parts, tplPart{lit: rest})
			probe.WriteString(rest)
			break
		}
		if rest[i] == '}' {
			return template{}, fmt.Errorf("%q: } without {", s)
		}
		if i > 0 {
			t.parts = append(t.parts, tplPart{lit: rest[:i]})
			probe.WriteString(rest[:i])
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return template{}, fmt.Errorf("%q: { without }", s)
		}
		switch name := rest[i+1 : i+j]; name {
		case "site":
			t.parts = append(t.parts, tplPart{lit: site})
			probe.WriteString(site)
		case "area":
			t.parts = append(t.parts, tplPart{lit: area})
			probe.WriteString(area)
		case "manufacturer":
			t.parts = append(t.parts, tplPart{ref: 'm'})
			probe.WriteString("x")
		case "serial_number":
			serial = true
			t.parts = append(t.parts, tplPart{ref: 's'})
			probe.WriteString("x")
		default:
			return template{}, fmt.Errorf("%q: {%s}: want {site}, {area}, {manufacturer} or {serial_number}", s, name)
		}
		rest = rest[i+j+1:]
	}
	if !serial {
		return template{}, fmt.Errorf("%q: must hold {serial_number}, or all vehicles share one asset", s)
	}
	p := probe.String()
	if err := uns.ValidatePath(p + "/" + longestTag); err != nil || strings.HasSuffix(p, "/") {
		if err == nil {
			err = fmt.Errorf("ends with /")
		}
		return template{}, fmt.Errorf("%q: %v", s, err)
	}
	return t, nil
}

// apply returns the asset of a vehicle; its names are sanitised into
// segments. The result is not validated.
func (t template) apply(manufacturer, serial string) string {
	var b strings.Builder
	for _, p := range t.parts {
		switch p.ref {
		case 'm':
			b.WriteString(Sanitize(manufacturer))
		case 's':
			b.WriteString(Sanitize(serial))
		default:
			b.WriteString(p.lit)
		}
	}
	return b.String()
}

// Sanitize makes a vehicle's name (a topic level, any UTF-8 but '/', '+',
// '#') usable in a UNS path segment: every byte outside A-Z a-z 0-9 _ - .
// becomes '_', a leading '.' too, and it is cut to uns.MaxSegmentLen bytes.
// Different names can so map to the same segment ("AGV 1" and "AGV_1").
func Sanitize(name string) string {
	if len(name) > uns.MaxSegmentLen {
		name = name[:uns.MaxSegmentLen]
	}
	clean := true
	for i := 0; i < len(name); i++ {
		if !segmentByte(name[i]) || i == 0 && name[i] == '.' {
			clean = false
			break
		}
	}
	if clean {
		return name
	}
	b := []byte(name)
	for i, c := range b {
		if !segmentByte(c) || i == 0 && c == '.' {
			b[i] = '_'
		}
	}
	return string(b)
}

func segmentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}
