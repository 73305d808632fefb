package uplink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/margo"
)

// The kinds of a manifest's parts.
const (
	PartInput    = "input"    // one connector input: {"<kind>": {config}}
	PartPipeline = "pipeline" // one pipeline entry without its name: {"match": […], "stages": […]}
	PartSetting  = "setting"  // one setting: a JSON string
	// PartDeployment is a Margo ApplicationDeployment (helm or compose),
	// for devices that are Margo clients (docs/fleet.md#margo).
	PartDeployment = "deployment"
	PartSoftware   = "software" // the software the edge runs: Software (software/molen)
	// PartService is a marketplace install: ServiceInstall, run as a
	// pipeline of its own (docs/services.md#installing-from-the-marketplace).
	PartService = "service"
)

// Manifest is an edge's desired state as the hub computed it
// (docs/fleet.md): content-addressed parts and a version that only grows.
// A part's name is "<kind>/<name>" ("pipeline/line1-temps").
type Manifest struct {
	Edge    string `json:"edge"`
	Version uint64 `json:"version"`
	// Digest is ManifestDigest of the parts: it names the whole state.
	Digest string `json:"digest"`
	Parts  []Part `json:"parts"`
}

// Part is one piece of desired state: an input, a pipeline or a setting.
type Part struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Digest is PartDigest of Content.
	Digest  string          `json:"digest"`
	Content json.RawMessage `json:"content"`
}

// ErrManifest is wrapped by every reason a manifest is refused: a digest
// that does not match its content, parts that are malformed.
var ErrManifest = errors.New("invalid manifest")

// PartDigest is the digest of a part's content: "sha256:<hex>" of its
// compact JSON form (json.Compact), so that re-indenting the content does
// not change it; content that is not JSON is digested as it is.
func PartDigest(content []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, content) == nil {
		content = b.Bytes()
	}
	sum := sha256.Sum256(content)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ManifestDigest is the digest of a manifest's parts: sha256 over each
// part's name and digest, in the order given (sorted by name).
func ManifestDigest(parts []Part) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%s %s\n", p.Name, p.Digest)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// SplitPartName splits "pipeline/line1" into its kind and name.
func SplitPartName(name string) (kind, rest string) {
	kind, rest, _ = strings.Cut(name, "/")
	return kind, rest
}

// Verify checks that every part's content has its digest, that the parts
// are sorted by name without repeats, that each part's kind is known and
// matches its name, and that the manifest's digest is theirs. Its errors
// wrap ErrManifest and name the part at fault.
func (m Manifest) Verify() error {
	for i, p := range m.Parts {
		kind, name := SplitPartName(p.Name)
		switch {
		case kind != p.Kind || name == "":
			return fmt.Errorf("%w: part %q: name must be %q followed by / and a name", ErrManifest, p.Name, p.Kind)
		case !slices.Contains([]string{PartInput, PartPipeline, PartSetting, PartSecret, PartDeployment, PartSoftware, PartService}, p.Kind):
			return fmt.Errorf("%w: part %q: unknown kind %q", ErrManifest, p.Name, p.Kind)
		case i > 0 && m.Parts[i-1].Name >= p.Name:
			return fmt.Errorf("%w: part %q: parts must be sorted by name, each once", ErrManifest, p.Name)
		case PartDigest(p.Content) != p.Digest:
			return fmt.Errorf("%w: part %q: content does not match its digest %s", ErrManifest, p.Name, p.Digest)
		}
	}
	if d := ManifestDigest(m.Parts); d != m.Digest {
		return fmt.Errorf("%w: digest %s is not that of the parts (%s)", ErrManifest, m.Digest, d)
	}
	return nil
}

// Part returns the part called name.
func (m Manifest) Part(name string) (Part, bool) {
	i, ok := slices.BinarySearchFunc(m.Parts, name, func(p Part, n string) int { return strings.Compare(p.Name, n) })
	if !ok {
		return Part{}, false
	}
	return m.Parts[i], true
}

// The states of a part on the edge (Margo's deployment states).
const (
	StatePending    = "pending"
	StateInstalling = "installing"
	StateInstalled  = "installed"
	StateFailed     = "failed"
	StateRemoving   = "removing"
	StateRemoved    = "removed"
)

// PartState is what the edge reports about one part.
type PartState struct {
	Name   string `json:"name"`
	Digest string `json:"digest,omitempty"`
	State  string `json:"state"`
	Error  string `json:"error,omitempty"`
	// Since is when a part was removed (StateRemoved): the edge keeps
	// reporting it until the next version is applied.
	Since time.Time `json:"since,omitzero"`
}

// Applied is the edge's account of its desired state: the version and
// digest it runs, the last one it was given and what became of it.
type Applied struct {
	Version uint64      `json:"version"` // running; 0: none from the hub (local files)
	Digest  string      `json:"digest,omitempty"`
	Parts   []PartState `json:"parts,omitempty"`
	// Offered is the last version the hub offered; Error why it is not
	// the one running (refused, failed, rolled back).
	Offered    uint64 `json:"offered,omitempty"`
	Error      string `json:"error,omitempty"`
	RolledBack bool   `json:"rolled_back,omitempty"`
	// Pending is a version that waits for a maintenance window (0:
	// none), PendingReason says which.
	Pending       uint64 `json:"pending,omitempty"`
	PendingReason string `json:"pending_reason,omitempty"`
	// FetchError is why the last request for the manifest failed ("":
	// it succeeded); the edge runs what it runs meanwhile.
	FetchError string `json:"fetch_error,omitempty"`
}

// InputHealth is one input's state in a Report.
type InputHealth struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// OutputHealth is the state of one of an edge's outputs (docs/outputs.md):
// State is ok, retrying or idle; the counters are points since the edge
// started (Dropped: lost to the output's bound or refused by its peer).
type OutputHealth struct {
	Name       string  `json:"name"`
	Kind       string  `json:"kind"`
	State      string  `json:"state"`
	Error      string  `json:"error,omitempty"`
	Sent       int64   `json:"sent"`
	Dropped    int64   `json:"dropped"`
	Pending    int64   `json:"pending"`
	LagSeconds float64 `json:"lag_seconds"`
}

// Report is what an edge tells the hub about itself (POST
// /api/v1/edge/report): software, platform, health, buffer and the state
// of its manifest.
type Report struct {
	Version string        `json:"version"` // molen version
	OS      string        `json:"os"`
	Arch    string        `json:"arch"`
	Inputs  []InputHealth `json:"inputs"`
	// Outputs are the edge's outputs besides the hub; none from edges
	// without (or from before) outputs.
	Outputs []OutputHealth `json:"outputs,omitempty"`
	// PipelineErrors counts the pipeline's operator errors since start;
	// PipelineError is the pipeline's load error, if any.
	PipelineErrors       int64   `json:"pipeline_errors"`
	PipelineError        string  `json:"pipeline_error,omitempty"`
	BufferRecords        int64   `json:"buffer_records"`
	BufferPoints         int64   `json:"buffer_points"`
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
	Forwarded            int64   `json:"forwarded_points"`
	// CPU is the edge process's use of one core since the last report, in
	// percent; Memory the bytes the process holds from the system; Disk
	// the free and total bytes of the data directory's file system.
	CPU       float64 `json:"cpu_percent"`
	Memory    uint64  `json:"memory_bytes"`
	DiskFree  uint64  `json:"disk_free_bytes"`
	DiskTotal uint64  `json:"disk_total_bytes"`
	Manifest  Applied `json:"manifest"`
	// Software is the state of software updates (docs/fleet.md#software-update).
	Software *SoftwareState `json:"software,omitempty"`
	// ReportSeconds is how often the edge reports (its poll interval), so
	// that the hub knows when a report is overdue; 0 from edges that do
	// not say.
	ReportSeconds float64 `json:"report_seconds,omitempty"`
	// Capabilities are the edge's Margo device capabilities manifest.
	Capabilities *margo.Capabilities `json:"capabilities,omitempty"`
}

// ErrNotModified is FetchManifest's answer when the hub's manifest still
// has the ETag given.
var ErrNotModified = errors.New("manifest not modified")

// FetchManifest asks the hub for the calling edge's manifest. With etag
// (the ETag of the last answer) the request is conditional: an unchanged
// manifest is ErrNotModified. It returns the manifest and its ETag; the
// manifest is not verified (Manifest.Verify).
func (c *Client) FetchManifest(ctx context.Context, etag string) (Manifest, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base()+"/api/v1/edge/manifest", nil)
	if err != nil {
		return Manifest{}, "", fmt.Errorf("manifest request: %w", err)
	}
	c.authorize(req, nil)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := c.roundTrip(req)
	if err != nil {
		return Manifest{}, "", fmt.Errorf("fetch manifest: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return Manifest{}, etag, ErrNotModified
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return Manifest{}, "", fmt.Errorf("read manifest: %w", err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return Manifest{}, "", fmt.Errorf("fetch manifest: %w: %s", ErrUnauthorized, errorText(data))
	}
	if resp.StatusCode != http.StatusOK {
		return Manifest{}, "", fmt.Errorf("fetch manifest: %w", &StatusError{Code: resp.StatusCode, Msg: errorText(data)})
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, "", fmt.Errorf("%w: decode: %v", ErrManifest, err)
	}
	return m, resp.Header.Get("ETag"), nil
}

// SendReport posts the edge's report to the hub.
func (c *Client) SendReport(ctx context.Context, r Report) error {
	if err := c.post(ctx, "/api/v1/edge/report", r); err != nil {
		return fmt.Errorf("send report: %w", err)
	}
	return nil
}
