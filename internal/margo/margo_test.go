package margo_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/molen-io/molen/internal/margo"
)

// The checks of this package agree with Margo's published schema: each
// document is accepted by both or refused by both.
func TestChecksAgreeWithTheSchema(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("testdata/workload-management-api-1.0.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	schema := func(name string) *openapi3.Schema { return doc.Components.Schemas[name].Value }
	const caps = `{"apiVersion":"margo.org/v1","kind":"DeviceCapabilitiesManifest","properties":{"id":"d","vendor":"v","modelNumber":"m",
		"serialNumber":"s","roles":["Standalone Device"],"resources":{"cpu":{"cores":4,"architecture":"arm64"},"memory":"8 GiB","storage":"1 GiB",
		"peripherals":[{"type":"camera"}],"interfaces":[{"type":"ethernet"}]}}}`
	const status = `{"apiVersion":"margo.org/v1","kind":"DeploymentStatusManifest","deploymentId":"d","status":{"state":"installed"},
		"components":[{"name":"c","state":"installed"}]}`
	const deployment = `{"apiVersion":"margo.org","kind":"ApplicationDeployment","metadata":{"name":"n"},"spec":{"applicationId":"app-1",
		"deploymentProfile":{"type":"compose","components":[{"name":"c","properties":{"packageLocation":"https://example/p.tgz"}}]}}}`
	for _, c := range []struct {
		name, schema, doc string
		check             func([]byte) error
	}{
		{"capabilities", "DeviceCapabilitiesManifest", caps, capsCheck},
		{"capabilities: role", "DeviceCapabilitiesManifest", strings.Replace(caps, "Standalone Device", "Robot", 1), capsCheck},
		{"capabilities: architecture", "DeviceCapabilitiesManifest", strings.Replace(caps, "arm64", "riscv64", 1), capsCheck},
		{"capabilities: interface", "DeviceCapabilitiesManifest", strings.Replace(caps, `"ethernet"`, `"lora"`, 1), capsCheck},
		{"capabilities: kind", "DeviceCapabilitiesManifest", strings.Replace(caps, "DeviceCapabilitiesManifest", "Device", 1), capsCheck},
		{"capabilities: no serial", "DeviceCapabilitiesManifest", strings.Replace(caps, `"serialNumber":"s",`, "", 1), capsCheck},
		{"status", "DeploymentStatusManifest", status, statusCheck},
		{"status: state", "DeploymentStatusManifest", strings.Replace(status, `"state":"installed"}`, `"state":"running"}`, 1), statusCheck},
		{"status: component state", "DeploymentStatusManifest", strings.Replace(status, `"state":"installed"}]`, `"state":"up"}]`, 1), statusCheck},
		{"status: no components", "DeploymentStatusManifest", strings.Replace(status, `,
		"components":[{"name":"c","state":"installed"}]`, "", 1), statusCheck},
		{"deployment", "appDeploymentManifest", deployment, margo.ValidateDeployment},
		{"deployment: application ID", "appDeploymentManifest", strings.Replace(deployment, "app-1", "App_1", 1), margo.ValidateDeployment},
		{"deployment: profile type", "appDeploymentManifest", strings.Replace(deployment, `"compose"`, `"snap"`, 1), margo.ValidateDeployment},
		{"deployment: no name", "appDeploymentManifest", strings.Replace(deployment, `{"name":"n"}`, `{}`, 1), margo.ValidateDeployment},
		{"deployment: component without its package", "appDeploymentManifest", strings.Replace(deployment, `"packageLocation"`, `"location"`, 1), margo.ValidateDeployment},
	} {
		var v any
		if err := json.Unmarshal([]byte(c.doc), &v); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		byschema := schema(c.schema).VisitJSON(v)
		ours := c.check([]byte(c.doc))
		if (byschema == nil) != (ours == nil) {
			t.Errorf("%s: the schema says %v, molen's check %v", c.name, byschema, ours)
		}
		// The cases named "<kind>: <what is wrong>" are invalid, the others valid.
		if valid := !strings.Contains(c.name, ":"); valid != (ours == nil) {
			t.Errorf("%s: molen's check says %v", c.name, ours)
		}
	}
}

func capsCheck(b []byte) error {
	var c margo.Capabilities
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	return c.Validate()
}

func statusCheck(b []byte) error {
	var s margo.DeploymentStatus
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	return s.Validate()
}
