package programme

import "context"

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
// hub plugs in its source: the marketplace's released listings.
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
