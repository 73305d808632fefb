// Package eucat describes a service package for the EU's catalogues: a
// DCAT-AP 3 dcat:DataService (data.europa.eu and the national portals
// harvest DCAT-AP) and a Gaia-X gx:ServiceOffering (Trust Framework 22.10,
// for Gaia-X federated catalogues), both as JSON-LD with inline contexts,
// so that a reader needs no network to expand them.
//
// Both name the provider, the terms of use with their sha256, a usage
// policy in ODRL 2.2, and the package by its sha256 digest. The hub
// serves them at
//
//	GET /api/v1/market/services/{id}/versions/{version}/catalogue?format=dcat|gaiax
//
// (public, application/ld+json); `molen service export` prints them for a
// package directory.
package eucat

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/molen-io/molen/internal/service"
)

// The vocabularies.
const (
	DCAT  = "http://www.w3.org/ns/dcat#"
	DCT   = "http://purl.org/dc/terms/"
	FOAF  = "http://xmlns.com/foaf/0.1/"
	SPDX  = "http://spdx.org/rdf/terms#"
	ODRL  = "http://www.w3.org/ns/odrl/2/"
	XSD   = "http://www.w3.org/2001/XMLSchema#"
	VCARD = "http://www.w3.org/2006/vcard/ns#"
	// GX is the namespace of the Gaia-X Trust Framework 22.10 shapes
	// (the registry's trustframework context), whose ServiceOffering has
	// providedBy, termsAndConditions (URL, hash), policy and
	// dataAccountExport.
	GX = "https://registry.lab.gaia-x.eu/development/api/trusted-shape-registry/v1/shapes/jsonld/trustframework#"
	// TechTheme is the EU data theme "Science and technology".
	TechTheme = "http://publications.europa.eu/resource/authority/data-theme/TECH"
	// ABIDoc is the specification a module conforms to.
	ABIDoc = "https://github.com/molen-io/molen/blob/main/docs/services.md#the-module-abi-molen-svc1"
)

// Formats are the names Export takes.
var Formats = []string{"dcat", "gaiax"}

// Offering is what the catalogue entry says beyond the package's
// manifest.
type Offering struct {
	Package *service.Package
	// Provider is the organisation offering the service; its URL names it.
	ProviderName, ProviderURL string
	// Version of the package; default the manifest's.
	Version string
	// PackageDigest and TermsDigest are the sha256 (hex) of the published
	// package archive and of the terms' text.
	PackageDigest, TermsDigest string
	// HubURL is the hub's base URL (https://hub.example.org).
	HubURL string
	// License is the package's licence as an SPDX identifier ("" for none
	// known: the licence file is then the terms' companion only).
	License string
}

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// check validates o and fills its defaults.
func (o *Offering) check() error {
	var errs []error
	if o.Package == nil {
		return errors.New("eucat: no package")
	}
	if o.Version == "" {
		o.Version = o.Package.Manifest.Metadata.Version
	}
	if o.ProviderName == "" {
		errs = append(errs, errors.New("provider name: required"))
	}
	for _, u := range []struct{ name, v string }{{"provider URL", o.ProviderURL}, {"hub URL", o.HubURL}} {
		if p, err := url.Parse(u.v); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s: %q: want an http(s) URL", u.name, u.v))
		}
	}
	o.HubURL = strings.TrimRight(o.HubURL, "/")
	for _, d := range []struct{ name, v string }{{"package digest", o.PackageDigest}, {"terms digest", o.TermsDigest}} {
		if !hexDigest.MatchString(d.v) {
			errs = append(errs, fmt.Errorf("%s: %q: want 64 lower-case hex digits (sha256)", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// The IRIs of an offering on the hub.
func (o *Offering) serviceIRI() string {
	return o.HubURL + "/api/v1/market/services/" + url.PathEscape(o.Package.Manifest.Metadata.ID) + "/versions/" + url.PathEscape(o.Version)
}
func (o *Offering) listingURL() string {
	return o.HubURL + "/api/v1/market/services/" + url.PathEscape(o.Package.Manifest.Metadata.ID)
}
func (o *Offering) termsURL() string { return o.serviceIRI() + "/terms" }

// PackageIRI names the package by its digest: where an edge downloads it.
func (o *Offering) packageIRI() string { return o.HubURL + "/api/v1/edge/services/" + o.PackageDigest }

// Export returns the offering as JSON-LD in format (one of Formats).
func Export(o Offering, format string) ([]byte, error) {
	switch format {
	case "dcat":
		return DataService(o)
	case "gaiax":
		return ServiceOffering(o)
	}
	return nil, fmt.Errorf("format %q: want one of %s", format, strings.Join(Formats, ", "))
}

type obj = map[string]any

func langs(en, nl string) []obj {
	out := []obj{{"@value": strings.TrimSpace(en), "@language": "en"}}
	if nl != "" {
		out = append(out, obj{"@value": strings.TrimSpace(nl), "@language": "nl"})
	}
	return out
}

func id(iri string) obj { return obj{"@id": iri} }

// policy is the ODRL offer of the service: its users may use it, and —
// when the manifest declares no egress — the data it processes may not be
// transferred by it (molen-svc/1 gives a module no network).
func (o *Offering) policy() obj {
	p := obj{
		"@id":          o.serviceIRI() + "#policy",
		"@type":        "odrl:Offer",
		"odrl:uid":     id(o.serviceIRI() + "#policy"),
		"odrl:profile": id(ABIDoc),
		"odrl:permission": obj{
			"odrl:target":   id(o.serviceIRI()),
			"odrl:assigner": id(o.ProviderURL),
			"odrl:action":   id("odrl:use"),
		},
	}
	if len(o.Package.Molen.Capabilities.Egress) == 0 {
		p["odrl:prohibition"] = obj{
			"odrl:target":   id(o.serviceIRI()),
			"odrl:assigner": id(o.ProviderURL),
			"odrl:action":   id("odrl:transfer"),
		}
	}
	return p
}

var context = obj{
	"dcat": DCAT, "dct": DCT, "foaf": FOAF, "spdx": SPDX, "odrl": ODRL, "xsd": XSD, "vcard": VCARD, "gx": GX,
}

func checksum(hex string) obj {
	return obj{
		"@type":              "spdx:Checksum",
		"spdx:algorithm":     id("spdx:checksumAlgorithm_sha256"),
		"spdx:checksumValue": obj{"@value": hex, "@type": "xsd:hexBinary"},
	}
}

// DataService returns the offering as a DCAT-AP 3 dcat:DataService: its
// endpoint is the hub's listing of the service, the package is named by
// its digest (spdx:checksum and dct:hasPart), the terms are a
// dct:RightsStatement with their checksum, the policy an odrl:Offer.
func DataService(o Offering) ([]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	md := o.Package.Manifest.Metadata
	nl := o.Package.Molen.Translations["nl"]
	var keywords []obj
	for _, t := range md.Catalog.Application.Tags {
		keywords = append(keywords, obj{"@value": t, "@language": "en"})
	}
	doc := obj{
		"@context":                 context,
		"@id":                      o.serviceIRI(),
		"@type":                    "dcat:DataService",
		"dct:identifier":           md.ID,
		"dct:title":                langs(md.Name, nl.Name),
		"dct:description":          langs(md.Description, nl.Description),
		"dcat:version":             o.Version,
		"dcat:theme":               id(TechTheme),
		"dcat:endpointURL":         id(o.listingURL()),
		"dct:conformsTo":           id(ABIDoc),
		"dct:publisher":            obj{"@id": o.ProviderURL, "@type": "foaf:Agent", "foaf:name": o.ProviderName, "foaf:homepage": id(o.ProviderURL)},
		"dct:rights":               obj{"@id": o.termsURL(), "@type": "dct:RightsStatement", "spdx:checksum": checksum(o.TermsDigest)},
		"dct:hasPart":              obj{"@id": o.packageIRI(), "spdx:checksum": checksum(o.PackageDigest)},
		"odrl:hasPolicy":           o.policy(),
		"dct:accessRights":         id("http://publications.europa.eu/resource/authority/access-right/RESTRICTED"),
		"dcat:endpointDescription": id(ABIDoc),
	}
	if len(keywords) > 0 {
		doc["dcat:keyword"] = keywords
	}
	if site := md.Catalog.Application.Site; site != "" {
		doc["dcat:landingPage"] = id(site)
	}
	if o.License != "" {
		doc["dct:license"] = id("http://spdx.org/licenses/" + o.License)
	}
	return json.MarshalIndent(doc, "", "  ")
}

// ServiceOffering returns the offering as a Gaia-X gx:ServiceOffering
// (Trust Framework 22.10): providedBy the provider, termsAndConditions
// with the terms' URL and sha256, the ODRL policy (a string, as the shape
// wants), dataAccountExport (the hub's API, JSON), and the package by its
// digest (aggregationOf).
func ServiceOffering(o Offering) ([]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	md := o.Package.Manifest.Metadata
	policy, err := json.Marshal(obj{"@context": obj{"odrl": ODRL}, "@graph": []obj{o.policy()}})
	if err != nil {
		return nil, err
	}
	doc := obj{
		"@context":       context,
		"@id":            o.serviceIRI(),
		"@type":          "gx:ServiceOffering",
		"gx:name":        md.Name,
		"gx:description": strings.TrimSpace(md.Description),
		"gx:providedBy":  id(o.ProviderURL),
		"gx:termsAndConditions": obj{
			"@type":   "gx:SOTermsAndConditions",
			"gx:URL":  o.termsURL(),
			"gx:hash": o.TermsDigest,
		},
		"gx:policy": string(policy),
		"gx:dataAccountExport": obj{
			"@type":          "gx:DataAccountExport",
			"gx:requestType": "API",
			"gx:accessType":  "digital",
			"gx:formatType":  "application/json",
		},
		"gx:dataProtectionRegime": []string{"GDPR2016"},
		"gx:aggregationOf":        id(o.packageIRI()),
	}
	if tags := md.Catalog.Application.Tags; len(tags) > 0 {
		doc["gx:keyword"] = tags
	}
	return json.MarshalIndent(doc, "", "  ")
}

// Complete fills what o leaves empty from the package's own files, read
// by read (a name in the package, e.g. os.ReadFile of the directory's file
// or the published archive's entry): the provider's name and URL from the
// manifest's first organisation, the terms' sha256, and the licence's SPDX
// identifier (its SPDX-License-Identifier line).
func Complete(o *Offering, read func(name string) ([]byte, error)) error {
	if o.Package == nil {
		return errors.New("eucat: no package")
	}
	if orgs := o.Package.Manifest.Metadata.Catalog.Organization; len(orgs) > 0 {
		if o.ProviderName == "" {
			o.ProviderName = orgs[0].Name
		}
		if o.ProviderURL == "" {
			o.ProviderURL = orgs[0].Site
		}
	}
	if o.TermsDigest == "" {
		terms, err := read(o.Package.Molen.Terms)
		if err != nil {
			return fmt.Errorf("terms: %w", err)
		}
		sum := sha256.Sum256(terms)
		o.TermsDigest = hex.EncodeToString(sum[:])
	}
	if o.License == "" {
		if lic, err := read(o.Package.Manifest.Metadata.Catalog.Application.LicenseFile); err == nil {
			o.License = spdxID(lic)
		}
	}
	return nil
}

// spdxID returns a licence text's SPDX-License-Identifier, or "".
func spdxID(b []byte) string {
	for line := range strings.Lines(string(b)) {
		if id, ok := strings.CutPrefix(strings.TrimSpace(line), "SPDX-License-Identifier:"); ok {
			return strings.TrimSpace(id)
		}
	}
	return ""
}
