package yamlspec

import (
	"errors"
	"strings"
	"testing"
)

// TestParseSyntaxErrorLine: a syntax error names the line and column of
// the problem, not the 0-based line of the enclosing construct that yaml.v3
// reports ("line 4" for the first case).
func TestParseSyntaxErrorLine(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unclosed flow mapping", "pipelines:\n  - name: a\n    match: \"x/#\"\n    stages:\n      - deadband: {absolute: 1\n  - name: b\n    match: \"y/#\"\n",
			"YAML syntax, line 6, column 3: ',' or '}' must be specified\n   3 |     match: \"x/#\"\n   4 |     stages:\n   5 |       - deadband: {absolute: 1\n>  6 |   - name: b\n         ^\n   7 |     match: \"y/#\""},
		{"tab indentation", "pipelines:\n  - name: a\n\tmatch: x\n", "YAML syntax, line 3, column 1:"},
		{"unclosed sequence", "inputs:\n  - modbus:\n      url: tcp://x:502\n    foo: [\n", "YAML syntax, line 4, column 10: sequence end token ']' not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatal("Parse succeeded, want a syntax error")
			}
			if got := err.Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("error\n got  %s\n want %s…", got, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
	if n, err := Parse([]byte("a: [1, 2]\n")); err != nil || n.Content[0].Content[1].Line != 1 {
		t.Errorf("Parse of a valid document: %v, %v", n, err)
	}
}
