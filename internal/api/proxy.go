package api

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type secureKey struct{}

// fromProxy rewrites, for a request that came through a trusted proxy, its
// client address to the one the proxy saw (the last address in
// X-Forwarded-For that is not itself a trusted proxy), and notes whether
// the proxy received it over HTTPS (X-Forwarded-Proto). Requests from
// anyone else keep their peer address and their headers mean nothing.
func (rt *Router) fromProxy(r *http.Request) *http.Request {
	if len(rt.TrustedProxies) == 0 {
		return r
	}
	peer, err := netip.ParseAddr(ClientAddr(r))
	if err != nil || !rt.trusted(peer) {
		return r
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !rt.trusted(a) || i == 0 {
			r.RemoteAddr = net.JoinHostPort(a.String(), "0")
			break
		}
	}
	if strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		r = r.WithContext(context.WithValue(r.Context(), secureKey{}, true))
	}
	return r
}

func (rt *Router) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range rt.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Secure reports whether the client reached the hub over HTTPS: directly,
// or through a trusted proxy that says so.
func Secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	s, _ := r.Context().Value(secureKey{}).(bool)
	return s
}
