package mtconnect

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The parts of an MTConnect response document this package reads
// (MTConnect Standard Part 1, the REST protocol, and Part 3, Streams; the
// XML schemas MTConnectStreams_1.x and MTConnectError_1.x): the Header's
// sequence numbers and instance, and every observation of every component
// stream under its category (Samples, Events, Condition). Namespaces are
// ignored, so that every 1.x and 2.x version reads alike.

// document is an MTConnectStreams or MTConnectError document.
type document struct {
	XMLName xml.Name
	Header  header         `xml:"Header"`
	Devices []deviceStream `xml:"Streams>DeviceStream"`
	Errors  []agentError   `xml:"Errors>Error"`
	// An MTConnectError of version 1.0–1.2 holds one Error without the
	// Errors element around it.
	Error *agentError `xml:"Error"`
}

type header struct {
	InstanceID    string `xml:"instanceId,attr"`
	FirstSequence uint64 `xml:"firstSequence,attr"`
	LastSequence  uint64 `xml:"lastSequence,attr"`
	NextSequence  uint64 `xml:"nextSequence,attr"`
}

type deviceStream struct {
	Name       string            `xml:"name,attr"`
	UUID       string            `xml:"uuid,attr"`
	Components []componentStream `xml:"ComponentStream"`
}

type componentStream struct {
	Samples   *group `xml:"Samples"`
	Events    *group `xml:"Events"`
	Condition *group `xml:"Condition"`
}

type group struct {
	Items []observation `xml:",any"`
}

// observation is one Sample, Event or Condition element: its element name
// (Position, Execution, Fault, …), attributes and text.
type observation struct {
	XMLName    xml.Name
	DataItemID string `xml:"dataItemId,attr"`
	Name       string `xml:"name,attr"`
	Timestamp  string `xml:"timestamp,attr"`
	Sequence   uint64 `xml:"sequence,attr"`
	Type       string `xml:"type,attr"`
	NativeCode string `xml:"nativeCode,attr"`
	Severity   string `xml:"nativeSeverity,attr"`
	Qualifier  string `xml:"qualifier,attr"`
	Value      string `xml:",chardata"`
}

type agentError struct {
	Code string `xml:"errorCode,attr"`
	Text string `xml:",chardata"`
}

// category is the section of a component stream an observation is in.
type category uint8

const (
	sample category = iota
	event
	condition
)

// obs is an observation with its category, in sequence order.
type obs struct {
	observation
	cat category
}

// Unavailable is the value of a sample or event the agent has no value for.
const Unavailable = "UNAVAILABLE"

// errOutOfRange is an MTConnectError saying that the requested sequence
// is no longer (or not yet) in the agent's buffer.
var errOutOfRange = errors.New("OUT_OF_RANGE")

// errBadDocument wraps what makes a response unusable.
var errBadDocument = errors.New("bad document")

// parse reads a response body: an MTConnectStreams document, or an
// MTConnectError (returned as an error wrapping errOutOfRange when that is
// its code). Observations come in sequence order.
func parse(body []byte) (header, []obs, error) {
	var d document
	if err := xml.NewDecoder(bytes.NewReader(body)).Decode(&d); err != nil {
		return header{}, nil, fmt.Errorf("%w: %v", errBadDocument, err)
	}
	switch d.XMLName.Local {
	case "MTConnectStreams":
	case "MTConnectError":
		errs := d.Errors
		if d.Error != nil {
			errs = append(errs, *d.Error)
		}
		var msgs []string
		outOfRange := false
		for _, e := range errs {
			msgs = append(msgs, fmt.Sprintf("%s: %s", e.Code, strings.TrimSpace(e.Text)))
			outOfRange = outOfRange || e.Code == "OUT_OF_RANGE"
		}
		err := fmt.Errorf("agent error: %s", strings.Join(msgs, "; "))
		if outOfRange {
			err = fmt.Errorf("%w: %s", errOutOfRange, strings.Join(msgs, "; "))
		}
		return d.Header, nil, err
	default:
		return header{}, nil, fmt.Errorf("%w: root element %q, want MTConnectStreams", errBadDocument, d.XMLName.Local)
	}
	if d.Header.InstanceID == "" || d.Header.NextSequence == 0 {
		return header{}, nil, fmt.Errorf("%w: header without instanceId or nextSequence", errBadDocument)
	}
	var out []obs
	for _, dev := range d.Devices {
		for _, c := range dev.Components {
			for cat, g := range [...]*group{sample: c.Samples, event: c.Events, condition: c.Condition} {
				if g == nil {
					continue
				}
				for _, o := range g.Items {
					o.Value = strings.TrimSpace(o.Value)
					out = append(out, obs{observation: o, cat: category(cat)})
				}
			}
		}
	}
	// The document groups by component; the sink gets them in the order
	// they happened.
	slices.SortStableFunc(out, func(a, b obs) int { return cmp.Compare(a.Sequence, b.Sequence) })
	return d.Header, out, nil
}

// parseTime reads an observation's timestamp: ISO 8601 in UTC, with or
// without the Z (agents of version 1.0–1.2 leave it out) and with up to
// nanoseconds.
func parseTime(s string) (int64, error) {
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixNano(), nil
		}
	}
	return 0, fmt.Errorf("timestamp %q: want ISO 8601 UTC", s)
}
