package hub_test

import (
	"os"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/web"
)

// TestWebEndpointsServed checks that the hub has a route for every
// endpoint the web application calls (the reviewed route list is the
// hub's).
func TestWebEndpointsServed(t *testing.T) {
	golden, err := os.ReadFile("testdata/routes.golden")
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, line := range strings.Split(string(golden), "\n") {
		if f := strings.Fields(line); len(f) > 1 && !strings.HasPrefix(f[0], "#") {
			served[f[1]] = true
		}
	}
	for _, e := range web.Endpoints {
		if !served["/api/v1/"+e] {
			t.Errorf("the web application calls /api/v1/%s, which the hub does not serve", e)
		}
	}
}
