package mtconnect

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseStreams(t *testing.T) {
	body, err := os.ReadFile("testdata/streams.xml")
	if err != nil {
		t.Fatal(err)
	}
	hdr, obs, err := parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.InstanceID != "1268463594" || hdr.FirstSequence != 1 || hdr.LastSequence != 30 || hdr.NextSequence != 31 {
		t.Errorf("header %+v", hdr)
	}
	type row struct {
		id, element string
		cat         category
		seq         uint64
		value, code string
	}
	var got []row
	for _, o := range obs {
		got = append(got, row{o.DataItemID, o.XMLName.Local, o.cat, o.Sequence, o.Value, o.NativeCode})
	}
	want := []row{ // in sequence order, across components
		{"c3", "Normal", condition, 3, "", ""},
		{"cn3", "Execution", event, 4, "READY", ""},
		{"c2", "SpindleSpeed", sample, 25, "0", ""},
		{"c4", "Load", sample, 26, "UNAVAILABLE", ""},
		{"logic", "Fault", condition, 27, "Program error", "1001"},
		{"logic", "Warning", condition, 28, "Feed hold", "1002"},
		{"pc", "PartCount", event, 29, "12", ""},
		{"cn4", "Program", event, 30, "O1234 & test", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d observations, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("observation %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestParseErrors(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name, body string
		is         error  // nil: another error
		want       string // substring of the error
	}{
		{"out of range", read("error-1.1.xml"), errOutOfRange, "must be greater than or equal to 1234"},
		{"1.0 error", read("error-1.0.xml"), nil, "NO_DEVICE: Could not find the device"},
		{"truncated", `<?xml version="1.0"?><MTConnectStreams><Header instanceId="1" nextSequence=`, errBadDocument, "XML syntax error"},
		{"not xml", "<html>502 Bad Gateway", errBadDocument, "XML syntax error"},
		{"empty", "", errBadDocument, "EOF"},
		{"devices document", `<MTConnectDevices><Header instanceId="1"/></MTConnectDevices>`, errBadDocument, `root element "MTConnectDevices"`},
		{"no header", `<MTConnectStreams><Streams/></MTConnectStreams>`, errBadDocument, "header without instanceId"},
		{"bad sequence", `<MTConnectStreams><Header instanceId="1" nextSequence="2"/><Streams><DeviceStream><ComponentStream><Samples><Load dataItemId="x" sequence="-1">1</Load></Samples></ComponentStream></DeviceStream></Streams></MTConnectStreams>`, errBadDocument, "-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parse([]byte(tt.body))
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v, want one wrapping %v", err, tt.is)
			}
			if tt.is == nil && (errors.Is(err, errBadDocument) || errors.Is(err, errOutOfRange)) {
				t.Errorf("error %v: want an agent error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"2010-04-06T06:19:35.153141", 1270534775153141000},
		{"2010-04-06T06:19:35.153141Z", 1270534775153141000},
		{"2010-04-06T06:19:35Z", 1270534775000000000},
	} {
		got, err := parseTime(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseTime(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2010-04-06 06:19:35"} {
		if _, err := parseTime(bad); err == nil {
			t.Errorf("parseTime(%q): no error", bad)
		}
	}
}

// FuzzParse: no answer of an agent makes parse panic, and a document it
// accepts has a usable header.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"streams.xml", "error-1.1.xml", "error-1.0.xml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		hdr, obs, err := parse(body)
		if err != nil {
			return
		}
		if hdr.InstanceID == "" || hdr.NextSequence == 0 {
			t.Errorf("accepted a header without instance or next sequence: %+v", hdr)
		}
		for i := 1; i < len(obs); i++ {
			if obs[i].Sequence < obs[i-1].Sequence {
				t.Fatalf("observations out of sequence order at %d", i)
			}
		}
	})
}
