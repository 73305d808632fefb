package margo

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Media types of the API.
const (
	ManifestType = "application/vnd.margo.manifest.v1+json"
	BundleType   = "application/vnd.margo.bundle.v1+tar+gzip"
)

// ErrInvalid is wrapped by every reason a document does not follow the
// specification.
var ErrInvalid = errors.New("not a valid Margo document")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// The deployment states (Margo's, which molen's part states are).
var States = []string{"pending", "installing", "installed", "failed", "removing", "removed"}

// Capabilities is a DeviceCapabilitiesManifest.
type Capabilities struct {
	APIVersion string                 `json:"apiVersion"`
	Kind       string                 `json:"kind"` // "DeviceCapabilitiesManifest"
	Properties CapabilitiesProperties `json:"properties"`
}

// CapabilitiesProperties describes the device.
type CapabilitiesProperties struct {
	ID           string    `json:"id"`
	Vendor       string    `json:"vendor"`
	ModelNumber  string    `json:"modelNumber"`
	SerialNumber string    `json:"serialNumber"`
	Roles        []string  `json:"roles"` // "Standalone Cluster", "Cluster Leader", "Standalone Device"
	Resources    Resources `json:"resources"`
}

// Resources are the device's CPU, memory, storage, peripherals and
// communication interfaces.
type Resources struct {
	CPU         CPU          `json:"cpu"`
	Memory      string       `json:"memory"`
	Storage     string       `json:"storage"`
	Peripherals []Peripheral `json:"peripherals"`
	Interfaces  []Interface  `json:"interfaces"`
}

// CPU is the device's processor.
type CPU struct {
	Cores        float64 `json:"cores"`
	Architecture string  `json:"architecture,omitempty"` // amd64, arm64, arm
}

// Peripheral is a device's GPU, display, camera, microphone or speaker.
type Peripheral struct {
	Type         string `json:"type"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
}

// Interface is a communication interface: ethernet, wifi, cellular,
// bluetooth, usb, canbus, rs232.
type Interface struct {
	Type string `json:"type"`
}

// CapabilitiesKind is Capabilities.Kind.
const CapabilitiesKind = "DeviceCapabilitiesManifest"

var (
	roles       = []string{"Standalone Cluster", "Cluster Leader", "Standalone Device"}
	archs       = []string{"amd64", "arm64", "arm"}
	peripherals = []string{"gpu", "display", "camera", "microphone", "speaker"}
	interfaces  = []string{"ethernet", "wifi", "cellular", "bluetooth", "usb", "canbus", "rs232"}
)

// Validate checks what the schema requires of the document.
func (c Capabilities) Validate() error {
	p := c.Properties
	switch {
	case c.APIVersion == "":
		return invalid("apiVersion: required")
	case c.Kind != CapabilitiesKind:
		return invalid("kind: must be %s", CapabilitiesKind)
	case p.ID == "" || p.Vendor == "" || p.ModelNumber == "" || p.SerialNumber == "":
		return invalid("properties: id, vendor, modelNumber and serialNumber are required")
	case p.Roles == nil:
		return invalid("properties.roles: required")
	case p.Resources.Peripherals == nil || p.Resources.Interfaces == nil:
		return invalid("properties.resources: peripherals and interfaces are required (may be empty)")
	case p.Resources.CPU.Architecture != "" && !slices.Contains(archs, p.Resources.CPU.Architecture):
		return invalid("properties.resources.cpu.architecture: one of %s", strings.Join(archs, ", "))
	}
	for i, r := range p.Roles {
		if !slices.Contains(roles, r) {
			return invalid("properties.roles[%d]: one of %s", i, strings.Join(roles, ", "))
		}
	}
	for i, x := range p.Resources.Peripherals {
		if !slices.Contains(peripherals, x.Type) {
			return invalid("properties.resources.peripherals[%d].type: one of %s", i, strings.Join(peripherals, ", "))
		}
	}
	for i, x := range p.Resources.Interfaces {
		if !slices.Contains(interfaces, x.Type) {
			return invalid("properties.resources.interfaces[%d].type: one of %s", i, strings.Join(interfaces, ", "))
		}
	}
	return nil
}

// Error is a state's error in a status document.
type Error struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// ComponentStatus is the state of one component of a deployment.
type ComponentStatus struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Error *Error `json:"error,omitempty"`
}

// DeploymentStatus is a DeploymentStatusManifest.
type DeploymentStatus struct {
	APIVersion   string `json:"apiVersion"`
	Kind         string `json:"kind"` // "DeploymentStatusManifest"
	DeploymentID string `json:"deploymentId"`
	Status       struct {
		State string `json:"state"`
		Error *Error `json:"error,omitempty"`
	} `json:"status"`
	Components []ComponentStatus `json:"components"`
}

// StatusKind is DeploymentStatus.Kind.
const StatusKind = "DeploymentStatusManifest"

// Validate checks what the schema requires of the document.
func (d DeploymentStatus) Validate() error {
	switch {
	case d.APIVersion == "":
		return invalid("apiVersion: required")
	case d.Kind != StatusKind:
		return invalid("kind: must be %s", StatusKind)
	case d.DeploymentID == "":
		return invalid("deploymentId: required")
	case !slices.Contains(States, d.Status.State):
		return invalid("status.state: one of %s", strings.Join(States, ", "))
	case d.Components == nil:
		return invalid("components: required (may be empty)")
	}
	for i, c := range d.Components {
		if c.Name == "" || !slices.Contains(States, c.State) {
			return invalid("components[%d]: a name and a state (one of %s)", i, strings.Join(States, ", "))
		}
	}
	return nil
}

// StateManifest is an UnsignedAppStateManifest: the desired state of a
// device, its deployments by reference.
type StateManifest struct {
	ManifestVersion uint64          `json:"manifestVersion"`
	Bundle          *BundleRef      `json:"bundle"` // null when there are no deployments
	Deployments     []DeploymentRef `json:"deployments"`
}

// BundleRef refers to the archive of all deployments.
type BundleRef struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	SizeBytes int    `json:"sizeBytes"`
	URL       string `json:"url"`
}

// DeploymentRef refers to one deployment's YAML by its digest.
type DeploymentRef struct {
	DeploymentID string `json:"deploymentId"`
	Digest       string `json:"digest"`
	SizeBytes    int    `json:"sizeBytes"`
	URL          string `json:"url"`
}

var applicationID = regexp.MustCompile(`^[-a-z0-9]{1,200}$`)

// ValidateDeployment checks an ApplicationDeployment (as JSON) as the
// schema does: apiVersion, kind, metadata.name, spec.applicationId and a
// helm or compose deployment profile whose components have what their
// type needs.
func ValidateDeployment(doc []byte) error {
	var d struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			ApplicationID     string `json:"applicationId"`
			DeploymentProfile struct {
				Type       string `json:"type"`
				Components []struct {
					Name       string         `json:"name"`
					Properties map[string]any `json:"properties"`
				} `json:"components"`
			} `json:"deploymentProfile"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return invalid("%v", err)
	}
	p := d.Spec.DeploymentProfile
	switch {
	case d.APIVersion == "":
		return invalid("apiVersion: required (margo.org)")
	case d.Kind != "ApplicationDeployment":
		return invalid("kind: must be ApplicationDeployment")
	case d.Metadata.Name == "":
		return invalid("metadata.name: required")
	case !applicationID.MatchString(d.Spec.ApplicationID):
		return invalid("spec.applicationId: 1..200 of a-z 0-9 -")
	case p.Type != "helm" && p.Type != "compose":
		return invalid("spec.deploymentProfile.type: helm or compose")
	case len(p.Components) == 0:
		return invalid("spec.deploymentProfile.components: at least one")
	}
	need := map[string]string{"helm": "repository", "compose": "packageLocation"}[p.Type]
	for i, c := range p.Components {
		if c.Name == "" {
			return invalid("spec.deploymentProfile.components[%d].name: required", i)
		}
		if s, _ := c.Properties[need].(string); s == "" {
			return invalid("spec.deploymentProfile.components[%d].properties.%s: required for %s", i, need, p.Type)
		}
	}
	return nil
}
