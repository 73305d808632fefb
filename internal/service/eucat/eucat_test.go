package eucat

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/piprate/json-gold/ld"

	"github.com/molen-io/molen/internal/service"
)

// graph is an RDF graph from N-Quads: objects by subject and predicate.
type graph map[string]map[string][]string

// toRDF expands the JSON-LD with json-gold, a JSON-LD 1.1 processor, and
// returns its triples; the document's contexts are inline, so a loader
// that refuses to fetch anything proves no network is needed.
func toRDF(t *testing.T, doc []byte) graph {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	opts := ld.NewJsonLdOptions("")
	opts.Format = "application/n-quads"
	opts.DocumentLoader = refuse{}
	out, err := ld.NewJsonLdProcessor().ToRDF(v, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := graph{}
	for _, line := range strings.Split(strings.TrimSpace(out.(string)), "\n") {
		line = strings.TrimSuffix(line, " .")
		s, rest, _ := strings.Cut(line, " ")
		p, o, _ := strings.Cut(rest, " ")
		if g[s] == nil {
			g[s] = map[string][]string{}
		}
		g[s][p] = append(g[s][p], o)
	}
	return g
}

type refuse struct{}

func (refuse) LoadDocument(u string) (*ld.RemoteDocument, error) {
	return nil, ld.NewJsonLdError(ld.LoadingDocumentFailed, "no network in tests: "+u)
}

// has reports whether s has predicate p with object o (an N-Quads term:
// <iri>, "literal"@lang or "literal"^^<type>).
func (g graph) has(s, p, o string) bool {
	for _, x := range g[s][p] {
		if x == o {
			return true
		}
	}
	return false
}

// one returns the single object of s and p.
func (g graph) one(t *testing.T, s, p string) string {
	t.Helper()
	if len(g[s][p]) != 1 {
		t.Fatalf("%s %s: objects %v, want one", s, p, g[s][p])
	}
	return g[s][p][0]
}

func iri(s string) string { return "<" + s + ">" }

func offering(t *testing.T) Offering {
	pkg, err := service.LoadPackage("../../../services/spc")
	if err != nil {
		t.Fatal(err)
	}
	terms, err := os.ReadFile(filepath.Join(pkg.Dir, pkg.Molen.Terms))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(terms)
	return Offering{
		Package:       pkg,
		ProviderName:  "molen",
		ProviderURL:   "https://github.com/molen-io/molen",
		PackageDigest: strings.Repeat("ab", 32),
		TermsDigest:   hex.EncodeToString(sum[:]),
		HubURL:        "https://hub.example.org/",
		License:       "Apache-2.0",
	}
}

const svc = "https://hub.example.org/api/v1/market/services/molen-spc/versions/1.0.0"

// TestDataService checks the DCAT-AP description's triples: the class,
// the texts in both languages, the mandatory endpoint URL, the publisher,
// the terms with their sha256, the package by digest, the licence and
// the ODRL policy.
func TestDataService(t *testing.T) {
	o := offering(t)
	doc, err := DataService(o)
	if err != nil {
		t.Fatal(err)
	}
	g := toRDF(t, doc)
	s := iri(svc)
	for _, want := range [][2]string{
		{RDFType, iri(DCAT + "DataService")},
		{DCT + "identifier", `"molen-spc"`},
		{DCT + "title", `"SPC — Western Electric rules"@en`},
		{DCT + "title", `"SPC — Western Electric-regels"@nl`},
		{DCAT + "endpointURL", iri("https://hub.example.org/api/v1/market/services/molen-spc")},
		{DCAT + "version", `"1.0.0"`},
		{DCAT + "theme", iri(TechTheme)},
		{DCAT + "keyword", `"spc"@en`},
		{DCT + "conformsTo", iri(ABIDoc)},
		{DCT + "publisher", iri("https://github.com/molen-io/molen")},
		{DCT + "license", iri("http://spdx.org/licenses/Apache-2.0")},
		{DCT + "rights", iri(svc + "/terms")},
		{DCT + "hasPart", iri("https://hub.example.org/api/v1/edge/services/" + o.PackageDigest)},
		{ODRL + "hasPolicy", iri(svc + "#policy")},
	} {
		if !g.has(s, "<"+want[0]+">", want[1]) {
			t.Errorf("missing %s %s; the service has %v", want[0], want[1], g[s])
		}
	}
	if !g.has(iri("https://github.com/molen-io/molen"), iri(FOAF+"name"), `"molen"`) ||
		!g.has(iri("https://github.com/molen-io/molen"), iri(RDFTypeIRI), iri(FOAF+"Agent")) {
		t.Errorf("publisher: %v", g[iri("https://github.com/molen-io/molen")])
	}
	checkChecksum(t, g, iri(svc+"/terms"), o.TermsDigest)
	checkChecksum(t, g, iri("https://hub.example.org/api/v1/edge/services/"+o.PackageDigest), o.PackageDigest)
	checkPolicy(t, g)
}

// checkChecksum checks that s has an spdx:Checksum with sha256 and digest.
func checkChecksum(t *testing.T, g graph, s, digest string) {
	t.Helper()
	c := g.one(t, s, iri(SPDX+"checksum"))
	if !g.has(c, iri(RDFTypeIRI), iri(SPDX+"Checksum")) ||
		!g.has(c, iri(SPDX+"algorithm"), iri(SPDX+"checksumAlgorithm_sha256")) ||
		!g.has(c, iri(SPDX+"checksumValue"), `"`+digest+`"^^<`+XSD+`hexBinary>`) {
		t.Errorf("checksum of %s: %v", s, g[c])
	}
}

// checkPolicy checks the ODRL offer: use permitted, transfer prohibited
// (SPC declares no egress), both by the provider, on the service.
func checkPolicy(t *testing.T, g graph) {
	t.Helper()
	pol := iri(svc + "#policy")
	if !g.has(pol, iri(RDFTypeIRI), iri(ODRL+"Offer")) {
		t.Fatalf("policy: %v", g[pol])
	}
	for rule, action := range map[string]string{"permission": "use", "prohibition": "transfer"} {
		r := g.one(t, pol, iri(ODRL+rule))
		if !g.has(r, iri(ODRL+"action"), iri(ODRL+action)) || !g.has(r, iri(ODRL+"target"), iri(svc)) ||
			!g.has(r, iri(ODRL+"assigner"), iri("https://github.com/molen-io/molen")) {
			t.Errorf("%s: %v", rule, g[r])
		}
	}
}

// TestServiceOffering checks the Gaia-X description's triples, and that
// its policy string is itself JSON-LD with the same ODRL offer.
func TestServiceOffering(t *testing.T) {
	o := offering(t)
	doc, err := ServiceOffering(o)
	if err != nil {
		t.Fatal(err)
	}
	g := toRDF(t, doc)
	s := iri(svc)
	for _, want := range [][2]string{
		{RDFType, iri(GX + "ServiceOffering")},
		{GX + "providedBy", iri("https://github.com/molen-io/molen")},
		{GX + "name", `"SPC — Western Electric rules"`},
		{GX + "keyword", `"quality"`},
		{GX + "dataProtectionRegime", `"GDPR2016"`},
		{GX + "aggregationOf", iri("https://hub.example.org/api/v1/edge/services/" + o.PackageDigest)},
	} {
		if !g.has(s, "<"+want[0]+">", want[1]) {
			t.Errorf("missing %s %s; the offering has %v", want[0], want[1], g[s])
		}
	}
	tc := g.one(t, s, iri(GX+"termsAndConditions"))
	if !g.has(tc, iri(GX+"URL"), `"`+svc+`/terms"`) || !g.has(tc, iri(GX+"hash"), `"`+o.TermsDigest+`"`) {
		t.Errorf("terms and conditions: %v", g[tc])
	}
	dae := g.one(t, s, iri(GX+"dataAccountExport"))
	if !g.has(dae, iri(GX+"requestType"), `"API"`) || !g.has(dae, iri(GX+"accessType"), `"digital"`) ||
		!g.has(dae, iri(GX+"formatType"), `"application/json"`) {
		t.Errorf("data account export: %v", g[dae])
	}
	var doc2 map[string]any
	json.Unmarshal(doc, &doc2)
	policy, _ := doc2["gx:policy"].(string)
	checkPolicy(t, toRDF(t, []byte(policy)))
}

// TestTermsDigestOfTheFile: the digest in the export is the one given;
// the test's is the terms file's own, so a changed TERMS.md shows.
func TestExportErrors(t *testing.T) {
	o := offering(t)
	for _, tc := range []struct {
		edit func(*Offering)
		want string
	}{
		{func(o *Offering) { o.PackageDigest = "sha256:xyz" }, "package digest"},
		{func(o *Offering) { o.TermsDigest = strings.ToUpper(o.TermsDigest) }, "terms digest"},
		{func(o *Offering) { o.HubURL = "hub.example.org" }, "hub URL"},
		{func(o *Offering) { o.ProviderName = "" }, "provider name"},
	} {
		c := o
		tc.edit(&c)
		if _, err := DataService(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v", tc.want, err)
		}
	}
	if _, err := Export(o, "rdfxml"); err == nil || !strings.Contains(err.Error(), "dcat, gaiax") {
		t.Errorf("format: %v", err)
	}
}

const (
	RDFTypeIRI = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
	RDFType    = RDFTypeIRI
)
