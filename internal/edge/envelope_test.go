package edge

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/molen-io/molen/internal/uns"
	"github.com/molen-io/molen/internal/uplink"
)

func TestEnvelope(t *testing.T) {
	rec := uplink.EncodePoints(nil, []uns.Point{{Series: "f/m/t", TS: 1, Value: uns.Int(7)}})
	id := newResendID("dev-1", 7, "f/m/t", []byte("7"))
	id2 := newResendID("tcp://broker:1883\x00molen-1", 9, "plant/t", []byte("8"))
	tests := []struct {
		name    string
		data    []byte
		wantIDs []resendID
		wantRec []byte
		wantErr bool
	}{
		{"record without envelope (the format before it)", rec, nil, rec, false},
		{"record with an identity", appendEnvelope(nil, id), []resendID{id}, nil, false},
		{"identity and record", append(appendEnvelope(nil, id), rec...), []resendID{id}, rec, false},
		{"identities of a batch and record", append(appendEnvelope(nil, id, id2), rec...), []resendID{id, id2}, rec, false},
		{"later envelope version: skipped by its length", append([]byte{envelopeMark, 3, 9, 1, 2}, rec...), nil, rec, false},
		{"header shorter than an identity", append([]byte{envelopeMark, 2, envelopeVersion, 1}, rec...), nil, rec, false},
		{"header length past the end", []byte{envelopeMark, 40, envelopeVersion}, nil, nil, true},
		{"bad header length", []byte{envelopeMark, 0x80}, nil, nil, true},
		{"empty", nil, nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, ok, r, err := openEnvelope(tt.data)
			if (err != nil) != tt.wantErr || ok != (tt.wantIDs != nil) {
				t.Fatalf("openEnvelope: ok %v, err %v; want ok %v, error %v", ok, err, tt.wantIDs != nil, tt.wantErr)
			}
			if got := slices.Collect(ids.all()); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("identities %x, want %x", got, tt.wantIDs)
			}
			if err != nil {
				if !bytes.Equal(r, tt.data) {
					t.Errorf("a damaged envelope must come back whole, got %x", r)
				}
				return
			}
			if !bytes.Equal(r, tt.wantRec) {
				t.Errorf("record %x, want %x", r, tt.wantRec)
			}
		})
	}
	// An enveloped record is not an uplink record: the hub would refuse it,
	// which is why the forwarder strips the envelope.
	if _, err := uplink.DecodePoints(nil, append(appendEnvelope(nil, id), rec...)); err == nil {
		t.Error("the hub's decoder accepts a record with an envelope")
	}
}

func FuzzOpenEnvelope(f *testing.F) {
	rec := uplink.EncodePoints(nil, []uns.Point{{Series: "f/m/t", TS: 1, Value: uns.Int(7)}})
	f.Add(rec)
	f.Add(append(appendEnvelope(nil, newResendID("c", 1, "f/m/t", []byte("1"))), rec...))
	f.Add([]byte{envelopeMark, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, r, err := openEnvelope(data)
		if !bytes.HasSuffix(data, r) {
			t.Fatalf("record %x is not a suffix of %x", r, data)
		}
		if err != nil && !bytes.Equal(r, data) {
			t.Fatalf("error %v, but the record was cut", err)
		}
	})
}

func TestResendIDTellsMessagesApart(t *testing.T) {
	base := newResendID("dev", 7, "f/m/t", []byte(`{"value":1,"ts":1}`))
	if again := newResendID("dev", 7, "f/m/t", []byte(`{"value":1,"ts":1}`)); again != base {
		t.Fatal("the same publish gives two identities")
	}
	// Identities are on disk: the next start must compute the same ones.
	// SHA-256 of "molen edge resend v1\x00", 3, "dev", 0 7, 5, "f/m/t" and
	// the payload, cut to 16 bytes (computed independently).
	if got, want := fmt.Sprintf("%x", base[:]), "f91a2846b96b2acb3ecc9edd3aa3fa67"; got != want {
		t.Errorf("identity %s, want %s: changing how it is computed needs a new envelope version", got, want)
	}
	for _, other := range []struct {
		client, topic, payload string
		packet                 uint16
	}{
		{"dev2", "f/m/t", `{"value":1,"ts":1}`, 7},
		{"dev", "f/m/t", `{"value":1,"ts":1}`, 8},
		{"dev", "f/m/u", `{"value":1,"ts":1}`, 7},
		{"dev", "f/m/t", `{"value":2,"ts":1}`, 7},
		// Field boundaries are part of the hash: moving bytes from one field
		// to the next is another message.
		{"devf", "/m/t", `{"value":1,"ts":1}`, 7},
		{"dev", "f/m/t{", `"value":1,"ts":1}`, 7},
	} {
		if newResendID(other.client, other.packet, other.topic, []byte(other.payload)) == base {
			t.Errorf("%+v has the identity of the base message", other)
		}
	}
}

func TestStamped(t *testing.T) {
	tests := []struct {
		payload string
		want    bool
	}{
		{`42`, false},
		{`"running"`, false},
		{`{"value": 42}`, false},
		{`{"value": 42, "ts": 1763700000000}`, true},
		{`{"value": 42, "ts": "2025-11-21T04:40:00.123456789Z"}`, true},
		{`{"ts": 1763700000000, "a": 1, "b": {"c": 2}}`, true},
		{`{"a": {"value": 1, "ts": 1763700000000}, "b": {"value": 2, "ts": 1763700000001}}`, true},
		{`{"a": {"value": 1, "ts": 1763700000000}, "b": 2}`, false}, // b takes the receive time
	}
	for _, tt := range tests {
		now := time.Now().UnixNano()
		pts, err := uns.Decode(nil, "f/m", []byte(tt.payload), now)
		if err != nil {
			t.Fatalf("%s: %v", tt.payload, err)
		}
		if got := stamped(pts, now); got != tt.want {
			t.Errorf("stamped(%s) = %v, want %v", tt.payload, got, tt.want)
		}
	}
}

func TestResendTableForgetsOldestFirst(t *testing.T) {
	const size = 4
	tab := newResendTable(size)
	id := func(i int) resendID { return newResendID("c", uint16(i), "f/m/t", []byte(fmt.Sprint(i))) }
	for i := range 6 {
		tab.add(id(i))
	}
	for i := range 6 {
		if got, want := tab.has(id(i)), i >= 6-size; got != want {
			t.Errorf("after 6 adds to a table of %d: has(%d) = %v, want %v", size, i, got, want)
		}
	}
	// An identity added again lives on past its first slot.
	tab.add(id(2))
	tab.add(id(6))
	tab.add(id(7))
	tab.add(id(8))
	if !tab.has(id(2)) || tab.has(id(3)) || tab.has(id(4)) || tab.has(id(5)) {
		t.Errorf("re-added identity: has(2) %v, has(3..5) %v %v %v; want true, false", tab.has(id(2)), tab.has(id(3)), tab.has(id(4)), tab.has(id(5)))
	}
	for i := range 1000 {
		tab.add(id(100 + i))
		if n := tab.len(); n > size {
			t.Fatalf("table holds %d identities, bound %d", n, size)
		}
	}
}

// BenchmarkResendID is the cost the identity adds to every QoS 1 publish.
func BenchmarkResendID(b *testing.B) {
	payload := []byte(`{"value": 1234.5, "ts": 1763700000000, "q": "good"}`)
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		newResendID("molen-sim-plant-1-hall-a-line-1-press-3", 4711, "plant-1/hall-a/line-1/press-3/oil_temp_c", payload)
	}
}
