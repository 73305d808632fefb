package yamlspec

import (
	"errors"
	"fmt"
	"strings"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"gopkg.in/yaml.v3"
)

// Parse reads a YAML document into a node tree. A syntax error is an *Error
// that says where the problem is, as line:column and the lines around it
// with a caret:
//
//	line 6, column 3: ',' or '}' must be specified
//	   5 |       - deadband: {absolute: 1
//	>  6 |   - name: b
//	         ^
//
// yaml.v3 reports the line where the enclosing construct starts, counted
// from 0 for most errors, which sends a reader to the wrong line; a second
// parser (goccy/go-yaml) locates the problem. Where that parser accepts what
// yaml.v3 refused, yaml.v3's own message is kept.
func Parse(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{Msg: syntaxError(data, err)}
	}
	return &doc, nil
}

func syntaxError(data []byte, v3err error) string {
	msg := strings.TrimPrefix(v3err.Error(), "yaml: ")
	_, err := goccyparser.ParseBytes(data, 0)
	var se *goccy.SyntaxError
	if err == nil || !errors.As(err, &se) || se.Token == nil || se.Token.Position == nil {
		return "YAML syntax: " + msg
	}
	p := se.Token.Position
	// The message without colours, then the source lines goccy quotes,
	// which follow its first line.
	_, snippet, _ := strings.Cut(goccy.FormatError(err, false, true), "\n")
	return fmt.Sprintf("YAML syntax, line %d, column %d: %s\n%s", p.Line, p.Column, se.Message, strings.TrimRight(snippet, "\n"))
}
