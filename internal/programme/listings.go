package programme

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/molen-io/molen/internal/service"
)

// Listing is a marketplace service as a journey recommends it: what it is
// called, its technology category, the DMA dimensions it helps with and
// who provides it.
type Listing struct {
	ID         string   `json:"id"`
	NameEN     string   `json:"name_en"`
	NameNL     string   `json:"name_nl"`
	Category   string   `json:"category"`
	Dimensions []string `json:"dimensions"` // DMA dimension IDs (strategy … green)
	Provider   string   `json:"provider"`
}

// Name is the listing's name in lang ("nl" or else English).
func (l Listing) Name(lang string) string {
	if lang == "nl" && l.NameNL != "" {
		return l.NameNL
	}
	return l.NameEN
}

// Listings gives the marketplace's services released for companies. The
// hub plugs in its source: the marketplace's released listings, or the
// service packages of a directory (ReadPackages).
type Listings interface {
	Listings(ctx context.Context) ([]Listing, error)
}

// ListingSet is a fixed set of listings.
type ListingSet []Listing

// Listings returns the set.
func (s ListingSet) Listings(context.Context) ([]Listing, error) { return s, nil }

// maturityDimension maps a service manifest's maturity dimension
// (x-molen.maturity) to the questionnaire's dimension ID.
var maturityDimension = map[string]string{
	"digital-business-strategy":    "strategy",
	"digital-readiness":            "readiness",
	"human-centric-digitalisation": "human",
	"data-management":              "data",
	"automation-and-ai":            "automation",
	"green-digitalisation":         "green",
}

// Dimension is the questionnaire's dimension ID of a service manifest's
// maturity dimension (x-molen.maturity); "" for one it does not know.
func Dimension(maturity string) string { return maturityDimension[maturity] }

// ReadPackages reads the listings of the service packages in fsys: every
// */margo.yaml, checked as the marketplace checks it. The provider is the
// manifest's first organisation.
func ReadPackages(fsys fs.FS) (ListingSet, error) {
	files, err := fs.Glob(fsys, "*/margo.yaml")
	if err != nil {
		return nil, err
	}
	var out ListingSet
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		pkg, err := service.ParseManifest(b)
		if err != nil {
			return nil, fmt.Errorf("service package %s: %w", path.Dir(f), err)
		}
		m, x := pkg.Manifest, pkg.Molen
		l := Listing{ID: m.Metadata.ID, NameEN: m.Metadata.Name, NameNL: x.Translations["nl"].Name, Category: x.Category, Dimensions: []string{}}
		for _, d := range x.Maturity {
			l.Dimensions = append(l.Dimensions, maturityDimension[d])
		}
		if len(m.Metadata.Catalog.Organization) > 0 {
			l.Provider = m.Metadata.Catalog.Organization[0].Name
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Listing) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
