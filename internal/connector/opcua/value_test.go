package opcua

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/molen-io/molen/internal/uns"
)

func TestQuality(t *testing.T) {
	tests := []struct {
		sc   ua.StatusCode
		want uns.Quality
	}{
		{ua.StatusOK, uns.Good},
		{ua.StatusGoodLocalOverride, uns.Good},
		{ua.StatusUncertain, uns.Uncertain},
		{ua.StatusUncertainLastUsableValue, uns.Uncertain},
		{ua.StatusBad, uns.Bad},
		{ua.StatusBadSensorFailure, uns.Bad},
		{0xC0000000, uns.Bad}, // reserved severity 11 counts as bad
	}
	for _, tt := range tests {
		if got := quality(tt.sc); got != tt.want {
			t.Errorf("quality(0x%08X) = %v, want %v", uint32(tt.sc), got, tt.want)
		}
	}
}

func TestOverflow(t *testing.T) {
	tests := []struct {
		sc   ua.StatusCode
		want bool
	}{
		{ua.StatusOK, false},
		{ua.StatusOK | 0x0480, true},           // DataValue info type, overflow
		{ua.StatusUncertain | 0x0480, true},    // on any severity
		{ua.StatusOK | 0x0080, false},          // overflow bit without the info type
		{ua.StatusOK | 0x0400 | 0x0100, false}, // info type, another bit
		{ua.StatusBadSensorFailure, false},
	}
	for _, tt := range tests {
		if got := overflow(tt.sc); got != tt.want {
			t.Errorf("overflow(0x%08X) = %v, want %v", uint32(tt.sc), got, tt.want)
		}
	}
}

func TestTimestamp(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := now.Add(-time.Minute)
	srv := now.Add(-time.Second)
	min1601 := time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		dv   ua.DataValue
		want time.Time
	}{
		{"source", ua.DataValue{EncodingMask: ua.DataValueSourceTimestamp | ua.DataValueServerTimestamp, SourceTimestamp: src, ServerTimestamp: srv}, src},
		{"server", ua.DataValue{EncodingMask: ua.DataValueServerTimestamp, ServerTimestamp: srv}, srv},
		{"none", ua.DataValue{}, now},
		{"source 1601", ua.DataValue{EncodingMask: ua.DataValueSourceTimestamp | ua.DataValueServerTimestamp, SourceTimestamp: min1601, ServerTimestamp: srv}, srv},
		{"mask unset", ua.DataValue{SourceTimestamp: src}, now},
	}
	for _, tt := range tests {
		if got := timestamp(&tt.dv, now); got != tt.want.UnixNano() {
			t.Errorf("%s: timestamp = %v, want %v", tt.name, time.Unix(0, got).UTC(), tt.want)
		}
	}
}

func TestConvert(t *testing.T) {
	now := time.Now()
	good := func(v any) *ua.DataValue {
		return &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(v)}
	}
	tests := []struct {
		name   string
		dv     *ua.DataValue
		want   uns.Value
		reason string
	}{
		{"bool", good(true), uns.Bool(true), ""},
		{"sbyte", good(int8(-3)), uns.Int(-3), ""},
		{"byte", good(uint8(200)), uns.Int(200), ""},
		{"int16", good(int16(-300)), uns.Int(-300), ""},
		{"uint16", good(uint16(65000)), uns.Int(65000), ""},
		{"int32", good(int32(-70000)), uns.Int(-70000), ""},
		{"uint32", good(uint32(4_000_000_000)), uns.Int(4_000_000_000), ""},
		{"int64", good(int64(-1 << 50)), uns.Int(-1 << 50), ""},
		{"uint64", good(uint64(1 << 62)), uns.Int(1 << 62), ""},
		{"uint64 too big", good(uint64(1 << 63)), uns.Value{}, ReasonOutOfRange},
		{"float", good(float32(0.5)), uns.Float(0.5), ""},
		{"double", good(2.25), uns.Float(2.25), ""},
		{"string", good("abc"), uns.String("abc"), ""},
		{"inf", good(float32(float32Inf())), uns.Value{}, ReasonNotFinite},
		{"byte string", good([]byte("x")), uns.Value{}, ReasonUnsupportedType},
		{"array", good([]float64{1, 2}), uns.Value{}, ReasonUnsupportedType},
		{"guid", good(ua.NewGUID("72962B91-FA75-4AE6-8D28-B404DC7DAF63")), uns.Value{}, ReasonUnsupportedType},
		{"null", &ua.DataValue{}, uns.Value{}, ReasonNoValue},
		{"nil", nil, uns.Value{}, ReasonNoValue},
		{"bad with value", &ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueStatusCode, Value: ua.MustVariant(1.0), Status: ua.StatusBadCommunicationError}, uns.Value{}, ReasonBadStatus},
	}
	for _, tt := range tests {
		pt, reason, msg := convert("s/a/x", tt.dv, now)
		if reason != tt.reason {
			t.Errorf("%s: reason %q (%s), want %q", tt.name, reason, msg, tt.reason)
			continue
		}
		if reason == "" && (pt.Value != tt.want || pt.Series != "s/a/x" || pt.TS != now.UnixNano()) {
			t.Errorf("%s: point %+v, want value %v at %d", tt.name, pt, tt.want, now.UnixNano())
		}
	}
	_, _, msg := convert("s/a/x", &ua.DataValue{EncodingMask: ua.DataValueStatusCode, Status: ua.StatusBadSensorFailure}, now)
	if !strings.Contains(msg, "BadSensorFailure") {
		t.Errorf("bad status message %q does not name the status", msg)
	}
	_, _, msg = convert("s/a/x", good([]int32{1}), now)
	if !strings.Contains(msg, "array of Int32") {
		t.Errorf("array message %q does not name the type", msg)
	}
}

func float32Inf() float32 {
	var zero float32
	return 1 / zero
}

func TestTrust(t *testing.T) {
	now := time.Now()
	newCert := func(name string, parent *x509.Certificate, parentKey *rsa.PrivateKey, ca bool, notAfter time.Time) (*x509.Certificate, *rsa.PrivateKey) {
		t.Helper()
		key, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: notAfter,
			BasicConstraintsValid: true, IsCA: ca,
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c, key
	}
	day := now.Add(24 * time.Hour)
	server, _ := newCert("server", nil, nil, false, day)
	other, _ := newCert("other", nil, nil, false, day)
	ca, caKey := newCert("plant CA", nil, nil, true, day)
	issued, _ := newCert("issued", ca, caKey, false, day)
	expired, _ := newCert("expired", nil, nil, false, now.Add(-time.Minute))
	tests := []struct {
		name      string
		trusted   []*x509.Certificate
		presented []byte
		want      string // substring of the error; "" for none
	}{
		{"pinned", []*x509.Certificate{other, server}, server.Raw, ""},
		{"pinned with chain", []*x509.Certificate{server}, append(server.Raw, ca.Raw...), ""},
		{"issued by trusted CA", []*x509.Certificate{ca}, issued.Raw, ""},
		{"not trusted", []*x509.Certificate{other}, server.Raw, fmt.Sprintf(`certificate "server" (SHA-1 %s), issued by "server", is not trusted`, Thumbprint(server.Raw))},
		{"non-CA does not issue", []*x509.Certificate{server}, issued.Raw, "is not trusted"},
		{"expired", []*x509.Certificate{expired}, expired.Raw, "valid from"},
		{"none presented", []*x509.Certificate{server}, nil, "presents no certificate"},
		{"garbage", []*x509.Certificate{server}, []byte{1, 2, 3}, "does not parse"},
	}
	for _, tt := range tests {
		leaf, err := serverCertificate(tt.presented)
		if err == nil {
			err = trust(tt.trusted, leaf, now)
		}
		if strings.Contains(tt.want, "is not trusted") && !errors.Is(err, errUntrusted) {
			t.Errorf("%s: %v is not errUntrusted", tt.name, err)
		}
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
