package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/molen-io/molen/internal/api"
)

// TestTrustedProxies: X-Forwarded-For and X-Forwarded-Proto count only
// from a trusted proxy, and then the rightmost address it did not add.
func TestTrustedProxies(t *testing.T) {
	who := api.Route{Method: "GET", Path: "/who", Auth: api.Public, Handle: func(r *http.Request, _ api.Principal) (any, error) {
		return map[string]any{"addr": api.ClientAddr(r), "secure": api.Secure(r)}, nil
	}}
	tests := []struct {
		trusted      []string
		xff, proto   string
		addr         string
		secure, hsts bool
	}{
		{nil, "203.0.113.7", "https", "127.0.0.1", false, false},
		{[]string{"127.0.0.1/32"}, "203.0.113.7", "https", "203.0.113.7", true, true},
		{[]string{"127.0.0.1/32"}, "203.0.113.7, 10.1.2.3", "http", "10.1.2.3", false, false},
		{[]string{"127.0.0.1/32", "10.0.0.0/8"}, "203.0.113.7, 10.1.2.3", "", "203.0.113.7", false, false},
		{[]string{"127.0.0.1/32"}, "not an address", "", "127.0.0.1", false, false},
		{[]string{"192.0.2.0/24"}, "203.0.113.7", "https", "127.0.0.1", false, false},
	}
	for _, tt := range tests {
		rt := &api.Router{}
		for _, p := range tt.trusted {
			rt.TrustedProxies = append(rt.TrustedProxies, netip.MustParsePrefix(p))
		}
		rt.Handle(who)
		srv := httptest.NewServer(rt)
		req, _ := http.NewRequest("GET", srv.URL+"/who", nil)
		req.Header.Set("X-Forwarded-For", tt.xff)
		if tt.proto != "" {
			req.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Addr   string
			Secure bool
		}
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		srv.Close()
		hsts := resp.Header.Get("Strict-Transport-Security") != ""
		if got.Addr != tt.addr || got.Secure != tt.secure || hsts != tt.hsts {
			t.Errorf("trusted %v, XFF %q, proto %q: addr %s secure %v hsts %v; want %s %v %v", tt.trusted, tt.xff, tt.proto, got.Addr, got.Secure, hsts, tt.addr, tt.secure, tt.hsts)
		}
	}
}
