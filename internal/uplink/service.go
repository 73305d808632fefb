package uplink

import (
	"encoding/json"

	"github.com/molen-io/molen/internal/sign"
)

// ServicePath is where an edge downloads a service package, by its
// sha256 (hex), with its own identity.
const ServicePath = "/api/v1/edge/services/"

// ServiceInstall is the content of a service part: a released version
// of a marketplace service, the signatures the edge checks before it
// loads anything of it, and how the install runs. The edge runs it as a
// pipeline of its own, named "service-<install>": the series of Match go
// through one service stage, with Params, and on by Output.
type ServiceInstall struct {
	ID       string `json:"id"`
	Version  string `json:"version"`
	Provider string `json:"provider"`
	SHA256   string `json:"sha256"` // of the package archive, hex
	Size     int64  `json:"size"`
	// URL is the hub's path of the archive (ServicePath + SHA256).
	URL string `json:"url"`
	// Signature is the provider's DSSE envelope, Release the platform's
	// countersignature (docs/adr/0026-service-packages.md).
	Signature sign.Envelope `json:"signature"`
	Release   sign.Envelope `json:"release"`
	// Params are the install's parameters; a secret one is a reference
	// "${secret:<name>}" to a secret part.
	Params json.RawMessage `json:"params"`
	Match  []string        `json:"match"`
	Output string          `json:"output,omitempty"` // forward (default), local, drop
}
