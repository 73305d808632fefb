package edge

import (
	"errors"
	"fmt"
	"testing"
)

// An input that does not load with a secret in it says why without the
// secret's value: a parser that quotes the value back has it replaced by
// the reference.
func TestRedactSecrets(t *testing.T) {
	secrets := map[string]string{"pw": "hunter2", "empty": ""}
	err := fmt.Errorf("inputs.x.opcua.endpoint: %q does not parse", "opc.tcp://op:hunter2@plc")
	if got, want := redact(err, secrets).Error(), `inputs.x.opcua.endpoint: "opc.tcp://op:${secret:pw}@plc" does not parse`; got != want {
		t.Errorf("redacted: %s, want %s", got, want)
	}
	if e := errors.New("plain"); redact(e, secrets) != e {
		t.Error("an error without a secret is not kept as it is")
	}
}
