package edge

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/molen-io/molen/internal/uplink"
)

// Pins of the hub's key (--hub-pin): besides the usual check of its
// certificate (the system's roots, --hub-ca), the edge talks to the hub
// only if a certificate of the chain the hub presents has one of the
// pinned public keys. A pin is "sha256/" and the base64 SHA-256 of a
// certificate's SubjectPublicKeyInfo (as HPKP and curl's --pinnedpubkey
// write it); it survives a renewed certificate that keeps its key.

// parsePins checks pins and returns them in uplink.CertPin's form.
func parsePins(pins []string) ([]string, error) {
	out := make([]string, len(pins))
	for i, p := range pins {
		b64, ok := strings.CutPrefix(p, "sha256/")
		var sum []byte
		var err error
		if ok {
			if sum, err = base64.StdEncoding.DecodeString(b64); err != nil {
				sum, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(b64, "="))
			}
		}
		if !ok || err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("edge.hub_pin[%d]: want sha256/<base64 SHA-256 of the hub certificate's public key> (molen hub logs it at start as \"hub certificate\" pin)", i)
		}
		out[i] = "sha256/" + base64.StdEncoding.EncodeToString(sum)
	}
	return out, nil
}

// validatePinnedHub checks that a hub with pins is reached over HTTPS.
func validatePinnedHub(hub string, pins []string) error {
	if len(pins) == 0 || hub == "" {
		return nil
	}
	for _, h := range uplink.HubURLs(hub) {
		u, err := url.Parse(h)
		if err != nil || u.Scheme != "https" {
			return fmt.Errorf("edge.hub_pin: needs an https:// hub address, not %q", h)
		}
	}
	return nil
}

// pinTLS adds the check of pins to cfg (a copy of it).
func pinTLS(cfg *tls.Config, pins []string) *tls.Config {
	cfg = cfg.Clone()
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		var seen []string
		for _, c := range cs.PeerCertificates {
			p := uplink.CertPin(c.RawSubjectPublicKeyInfo)
			if slices.Contains(pins, p) {
				return nil
			}
			seen = append(seen, p)
		}
		return fmt.Errorf("hub certificate does not match --hub-pin: the hub at %s presents %s, pinned %s (a different hub, or one whose key changed: check before changing the pin)",
			cs.ServerName, strings.Join(seen, ", "), strings.Join(pins, ", "))
	}
	return cfg
}
