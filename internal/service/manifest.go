package service

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/molen-io/molen/internal/pipeline"
)

// ManifestFile is the name of a package's manifest: Margo's application
// description, with molen's fields in the x-molen extension of a
// deployment profile of type custom.
const ManifestFile = "margo.yaml"

// ABIVersion is the module ABI this host runs.
const ABIVersion = "molen-svc/1"

// ErrInvalidManifest is wrapped by every manifest validation error.
var ErrInvalidManifest = errors.New("invalid service manifest")

// Manifest is a service package's description (docs/services.md).
type Manifest struct {
	APIVersion         string              `yaml:"apiVersion"`
	Kind               string              `yaml:"kind"`
	Metadata           Metadata            `yaml:"metadata"`
	DeploymentProfiles []DeploymentProfile `yaml:"deploymentProfiles"`
}

// Metadata is Margo's application metadata. Name, Description and the
// catalogue texts are English; Molen.Translations has the Dutch.
type Metadata struct {
	ID          string  `yaml:"id"`
	Name        string  `yaml:"name"`
	Description string  `yaml:"description"`
	Version     string  `yaml:"version"`
	Catalog     Catalog `yaml:"catalog"`
}

// Catalog is Margo's catalogue information.
type Catalog struct {
	Application  CatalogApplication `yaml:"application"`
	Author       []Person           `yaml:"author"`
	Organization []Organization     `yaml:"organization"`
}

// CatalogApplication holds what the marketplace shows.
type CatalogApplication struct {
	Icon         string   `yaml:"icon"`
	Tagline      string   `yaml:"tagline"`
	ReleaseNotes string   `yaml:"releaseNotes"`
	LicenseFile  string   `yaml:"licenseFile"`
	Site         string   `yaml:"site"`
	Tags         []string `yaml:"tags"`
}

// Person is an author.
type Person struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
}

// Organization is the provider.
type Organization struct {
	Name string `yaml:"name"`
	Site string `yaml:"site"`
}

// DeploymentProfile is one of Margo's deployment profiles; molen runs the
// one of type custom whose x-molen holds an ABI it knows.
type DeploymentProfile struct {
	Type              string    `yaml:"type"`
	ID                string    `yaml:"id"`
	RequiredResources Resources `yaml:"requiredResources"`
	Molen             *Molen    `yaml:"x-molen"`
}

// Resources are what an install needs on the edge.
type Resources struct {
	CPU    struct{ Cores float64 } `yaml:"cpu"`
	Memory string                  `yaml:"memory"` // a quantity: 32Mi, 1Gi
}

// Molen is the x-molen extension: what molen needs to run, show and check
// the service.
type Molen struct {
	ABI          string                 `yaml:"abi"`
	Module       string                 `yaml:"module"` // the .wasm file in the package
	Source       string                 `yaml:"source"` // the Go package `molen service build` compiles; default "."
	Category     string                 `yaml:"category"`
	Maturity     []string               `yaml:"maturity"`
	Terms        string                 `yaml:"terms"` // file with the terms of use
	Translations map[string]Translation `yaml:"translations"`
	Parameters   []Parameter            `yaml:"parameters"`
	Capabilities Capabilities           `yaml:"capabilities"`
	Limits       LimitsSpec             `yaml:"limits"`
	OnFailure    string                 `yaml:"onFailure"`
	Content      Content                `yaml:"content"`
}

// Translation holds the catalogue texts in another language.
type Translation struct {
	Name         string `yaml:"name"`
	Description  string `yaml:"description"`
	Tagline      string `yaml:"tagline"`
	ReleaseNotes string `yaml:"releaseNotes"`
}

// Parameter is one field of the install form.
type Parameter struct {
	Name        string            `yaml:"name"`
	Type        string            `yaml:"type"` // string, number, integer, boolean, enum
	Label       map[string]string `yaml:"label"`
	Description map[string]string `yaml:"description"`
	Default     any               `yaml:"default"`
	Required    bool              `yaml:"required"`
	Secret      bool              `yaml:"secret"`
	Min         *float64          `yaml:"min"`
	Max         *float64          `yaml:"max"`
	Enum        []string          `yaml:"enum"`
}

// Capabilities is what the module may do; the edge enforces each.
type Capabilities struct {
	Host   []string `yaml:"host"`   // host functions: log, metrics, clock, state
	Reads  []string `yaml:"reads"`  // UNS globs of the series given to the module
	Writes []string `yaml:"writes"` // UNS globs of the series it may emit
	Events []string `yaml:"events"` // event kinds it may emit
	Egress []Egress `yaml:"egress"` // data that leaves the edge
}

// Egress declares data that leaves the edge, and to whom.
type Egress struct {
	To      string `yaml:"to"`
	Data    string `yaml:"data"`
	Purpose string `yaml:"purpose"`
}

// LimitsSpec is the manifest's form of Limits.
type LimitsSpec struct {
	Memory          string `yaml:"memory"`
	BatchTime       string `yaml:"batchTime"`
	OutputsPerInput int    `yaml:"outputsPerInput"`
	TickOutputs     int    `yaml:"tickOutputs"`
	StateBytes      int    `yaml:"stateBytes"`
	MaxFailures     int    `yaml:"maxFailures"`
}

// Content lists the package's other content.
type Content struct {
	Pipelines []string `yaml:"pipelines"` // pipeline templates (YAML)
	Panels    []string `yaml:"panels"`    // dashboard panels (JSON)
}

// Categories are the technology categories of the marketplace.
var Categories = []string{"ai", "robotics", "3d-printing", "autonomous-systems", "iot", "cybersecurity"}

// MaturityDimensions are the six dimensions of the EU Digital Maturity
// Assessment a service can improve.
var MaturityDimensions = []string{
	"digital-business-strategy", "digital-readiness", "human-centric-digitalisation",
	"data-management", "automation-and-ai", "green-digitalisation",
}

// HostCapabilities are the host functions a module may import, by
// capability; WASI (without files, sockets or environment) is always
// available.
var HostCapabilities = map[string][]string{
	"log":     {"log"},
	"metrics": {"metric"},
	"clock":   {"now"},
	"state":   {"state_get", "state_set"},
}

// Limits bound a running install.
type Limits struct {
	MemoryBytes     uint64        // the module's linear memory
	BatchTime       time.Duration // per Process, Tick or Init call
	OutputsPerInput int           // points a batch may emit per input point
	TickOutputs     int           // points a tick may emit
	StateBytes      int           // keys and values of the install's state
	MaxFailures     int           // consecutive failed calls before the install stops
}

// DefaultLimits apply where the manifest says nothing.
var DefaultLimits = Limits{
	MemoryBytes:     64 << 20,
	BatchTime:       time.Second,
	OutputsPerInput: 4,
	TickOutputs:     10000,
	StateBytes:      1 << 20,
	MaxFailures:     3,
}

// Policy is what happens to the points of a batch the module failed.
type Policy string

// The failure policies.
const (
	// PassOn passes the batch's points on unchanged, as if the service
	// were not there.
	PassOn Policy = "pass"
	// Hold keeps the batch's points (bounded) and gives them to the module
	// again once it runs; if the install stops or the hold is full they
	// are passed on unchanged.
	Hold Policy = "hold"
)

var (
	idRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	semverRE  = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	eventKind = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)
)

// Package is a loaded service package: its directory and manifest.
type Package struct {
	Dir      string
	Manifest *Manifest
	Molen    *Molen // the custom profile's extension
	Limits   Limits
	Reads    []pipeline.Glob
	Writes   []pipeline.Glob
}

// LoadPackage reads and validates the package in dir.
func LoadPackage(dir string) (*Package, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("read service manifest: %w", err)
	}
	pkg, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	pkg.Dir = dir
	return pkg, nil
}

// ParseManifest decodes and validates a manifest. Unknown fields are
// errors; all validation errors are returned at once, each naming its
// place and wrapping ErrInvalidManifest.
func ParseManifest(data []byte) (*Package, error) {
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	v := &validator{}
	pkg := v.manifest(&m)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return pkg, nil
}

type validator struct{ errs []error }

func (v *validator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%w: %s: %s", ErrInvalidManifest, path, fmt.Sprintf(format, args...)))
}

func (v *validator) manifest(m *Manifest) *Package {
	pkg := &Package{Manifest: m, Limits: DefaultLimits}
	if m.APIVersion == "" {
		v.fail("apiVersion", "missing (e.g. margo.org/v1-alpha1)")
	}
	if m.Kind != "ApplicationDescription" {
		v.fail("kind", "%q: want ApplicationDescription", m.Kind)
	}
	md := &m.Metadata
	if !idRE.MatchString(md.ID) {
		v.fail("metadata.id", "%q: want 2-63 of a-z 0-9 -, starting with a letter or digit", md.ID)
	}
	if strings.TrimSpace(md.Name) == "" {
		v.fail("metadata.name", "missing")
	}
	if strings.TrimSpace(md.Description) == "" {
		v.fail("metadata.description", "missing")
	}
	if !semverRE.MatchString(md.Version) {
		v.fail("metadata.version", "%q: want a semantic version like 1.2.0", md.Version)
	}
	if len(md.Catalog.Organization) == 0 || md.Catalog.Organization[0].Name == "" {
		v.fail("metadata.catalog.organization", "missing: name the provider organisation")
	}
	if md.Catalog.Application.LicenseFile == "" {
		v.fail("metadata.catalog.application.licenseFile", "missing")
	}
	var prof *DeploymentProfile
	for i := range m.DeploymentProfiles {
		p := &m.DeploymentProfiles[i]
		if p.Type == "custom" && p.Molen != nil {
			if prof != nil {
				v.fail(fmt.Sprintf("deploymentProfiles[%d]", i), "a second custom profile with x-molen")
				continue
			}
			prof = p
			v.molen(pkg, p.Molen, fmt.Sprintf("deploymentProfiles[%d].x-molen", i))
		}
	}
	if prof == nil {
		v.fail("deploymentProfiles", "no profile of type custom with x-molen")
	}
	return pkg
}

func (v *validator) molen(pkg *Package, x *Molen, path string) {
	pkg.Molen = x
	if x.ABI != ABIVersion {
		v.fail(path+".abi", "%q: this edge runs %s", x.ABI, ABIVersion)
	}
	if x.Module == "" {
		v.fail(path+".module", "missing: the .wasm file in the package")
	} else if !filepath.IsLocal(x.Module) {
		v.fail(path+".module", "%q: want a path inside the package", x.Module)
	}
	if x.Source == "" {
		x.Source = "."
	}
	if !slices.Contains(Categories, x.Category) {
		v.fail(path+".category", "%q: want one of %s", x.Category, strings.Join(Categories, ", "))
	}
	for i, d := range x.Maturity {
		if !slices.Contains(MaturityDimensions, d) {
			v.fail(fmt.Sprintf("%s.maturity[%d]", path, i), "%q: want one of %s", d, strings.Join(MaturityDimensions, ", "))
		}
	}
	if x.Terms == "" {
		v.fail(path+".terms", "missing: the file with the terms of use")
	}
	if nl, ok := x.Translations["nl"]; !ok || nl.Name == "" || nl.Description == "" {
		v.fail(path+".translations.nl", "missing: the Dutch name and description")
	}
	names := map[string]bool{}
	for i, p := range x.Parameters {
		pp := fmt.Sprintf("%s.parameters[%d]", path, i)
		if !regexp.MustCompile(`^[a-z][a-z0-9_]*$`).MatchString(p.Name) || names[p.Name] {
			v.fail(pp+".name", "%q: want a unique name of a-z 0-9 _", p.Name)
		}
		names[p.Name] = true
		switch p.Type {
		case "string", "number", "integer", "boolean":
		case "enum":
			if len(p.Enum) == 0 {
				v.fail(pp+".enum", "missing: list the choices")
			}
		default:
			v.fail(pp+".type", "%q: want string, number, integer, boolean or enum", p.Type)
		}
		if p.Label["en"] == "" || p.Label["nl"] == "" {
			v.fail(pp+".label", "want {en: …, nl: …}")
		}
		if p.Secret && p.Default != nil {
			v.fail(pp+".default", "a secret has no default")
		}
	}
	c := &x.Capabilities
	for i, h := range c.Host {
		if _, ok := HostCapabilities[h]; !ok {
			v.fail(fmt.Sprintf("%s.capabilities.host[%d]", path, i), "%q: want log, metrics, clock or state", h)
		}
	}
	pkg.Reads = v.globs(c.Reads, path+".capabilities.reads")
	pkg.Writes = v.globs(c.Writes, path+".capabilities.writes")
	if len(c.Reads) == 0 {
		v.fail(path+".capabilities.reads", "missing: the series the module reads")
	}
	for i, k := range c.Events {
		if !eventKind.MatchString(k) {
			v.fail(fmt.Sprintf("%s.capabilities.events[%d]", path, i), "%q: want 1-32 of a-z 0-9 _ -", k)
		}
	}
	for i, e := range c.Egress {
		if e.To == "" || e.Data == "" {
			v.fail(fmt.Sprintf("%s.capabilities.egress[%d]", path, i), "want to and data")
		}
	}
	v.limits(&pkg.Limits, x.Limits, path+".limits")
	switch Policy(x.OnFailure) {
	case "":
		x.OnFailure = string(PassOn)
	case PassOn, Hold:
	default:
		v.fail(path+".onFailure", "%q: want pass or hold", x.OnFailure)
	}
	for i, f := range slices.Concat(x.Content.Pipelines, x.Content.Panels) {
		if !filepath.IsLocal(f) {
			v.fail(fmt.Sprintf("%s.content[%d]", path, i), "%q: want a path inside the package", f)
		}
	}
}

func (v *validator) globs(src []string, path string) []pipeline.Glob {
	var out []pipeline.Glob
	for i, s := range src {
		g, err := pipeline.ParseGlob(s)
		if err != nil {
			v.fail(fmt.Sprintf("%s[%d]", path, i), "%v", err)
			continue
		}
		out = append(out, g)
	}
	return out
}

func (v *validator) limits(l *Limits, s LimitsSpec, path string) {
	if s.Memory != "" {
		n, err := ParseQuantity(s.Memory)
		if err != nil || n < 1<<20 || n > 4<<30 {
			v.fail(path+".memory", "%q: want 1Mi to 4Gi", s.Memory)
		}
		l.MemoryBytes = n
	}
	if s.BatchTime != "" {
		d, err := time.ParseDuration(s.BatchTime)
		if err != nil || d <= 0 || d > time.Minute {
			v.fail(path+".batchTime", "%q: want a duration up to 1m", s.BatchTime)
		}
		l.BatchTime = d
	}
	set := func(dst *int, n int, name string, hi int) {
		if n == 0 {
			return
		}
		if n < 1 || n > hi {
			v.fail(path+"."+name, "%d: want 1..%d", n, hi)
		}
		*dst = n
	}
	set(&l.OutputsPerInput, s.OutputsPerInput, "outputsPerInput", 1000)
	set(&l.TickOutputs, s.TickOutputs, "tickOutputs", 1_000_000)
	set(&l.StateBytes, s.StateBytes, "stateBytes", 64<<20)
	set(&l.MaxFailures, s.MaxFailures, "maxFailures", 1000)
}

// ParseQuantity parses a byte quantity: 512Ki, 32Mi, 1Gi, or bytes.
func ParseQuantity(s string) (uint64, error) {
	mult := uint64(1)
	for suf, m := range map[string]uint64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if rest, ok := strings.CutSuffix(s, suf); ok {
			s, mult = rest, m
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("quantity %q: want a number with Ki, Mi or Gi", s)
	}
	return n * mult, nil
}
