package quota_test

import (
	"context"
	"testing"

	"github.com/molen-io/molen/internal/meta/metatest"
	"github.com/molen-io/molen/internal/quota"
)

// The hub's default quota: the package's Default unless the hub sets one,
// and a hub default of zero limits means no limit (as --quota-series 0
// --quota-points-per-day 0 say), not the package's Default.
func TestDefaultLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		def  *quota.Limits
		want quota.Limits
	}{
		{"unset", nil, quota.Default},
		{"no limit", &quota.Limits{}, quota.Limits{}},
		{"series only", &quota.Limits{Series: 7}, quota.Limits{Series: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := quota.New(ctx, quota.Config{Meta: metatest.SQLite(t), Default: tc.def})
			if err != nil {
				t.Fatal(err)
			}
			got, isDefault, err := s.Limits(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || !isDefault {
				t.Errorf("limits %+v (default %v), want %+v (default true)", got, isDefault, tc.want)
			}
		})
	}
}
