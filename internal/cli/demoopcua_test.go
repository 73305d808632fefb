//go:build !edgeonly

package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// TestDemoServesOPCUA: the demo's edge serves its UNS as an OPC UA server,
// printed at start; a client browses Objects/UNS down to the compressor and
// reads its pressure.
func TestDemoServesOPCUA(t *testing.T) {
	var out bytes.Buffer
	d, err := StartDemo(t.Context(), DemoConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Seed: 1, Rate: 5}, testGlobals(&out))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	endpoint := d.OPCUA()
	if !strings.HasPrefix(endpoint, "opc.tcp://127.0.0.1:") || !strings.Contains(out.String(), "OPC UA server "+endpoint) {
		t.Fatalf("OPC UA endpoint %q, not printed as such:\n%s", endpoint, out.String())
	}
	c, err := gopcua.NewClient(endpoint, gopcua.SecurityMode(ua.MessageSecurityModeNone), gopcua.AuthAnonymous())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())

	// children returns the browse names of nid's children and their IDs.
	children := func(nid *ua.NodeID) map[string]*ua.NodeID {
		res, err := c.Browse(t.Context(), &ua.BrowseRequest{NodesToBrowse: []*ua.BrowseDescription{{
			NodeID: nid, BrowseDirection: ua.BrowseDirectionForward,
			ReferenceTypeID: ua.NewNumericNodeID(0, id.HierarchicalReferences), IncludeSubtypes: true,
			ResultMask: uint32(ua.BrowseResultMaskAll)}}})
		if err != nil || len(res.Results) != 1 || res.Results[0].StatusCode != ua.StatusOK {
			t.Fatalf("browse %s: %v %+v", nid, err, res)
		}
		m := map[string]*ua.NodeID{}
		for _, r := range res.Results[0].References {
			m[r.BrowseName.Name] = r.NodeID.NodeID
		}
		return m
	}
	root := children(ua.NewNumericNodeID(0, id.ObjectsFolder))["UNS"]
	if root == nil {
		t.Fatal("no UNS folder in Objects")
	}
	// Browse the compressor's path segment by segment, as a client would,
	// until its pressure has arrived.
	var pressure *ua.NodeID
	waitFor(t, "the compressor's pressure in the OPC UA tree", func() bool {
		nid := root
		for _, seg := range append(strings.Split(DemoCompressor, "/"), "pressure_bar") {
			if nid = children(nid)[seg]; nid == nil {
				return false
			}
		}
		pressure = nid
		return true
	})
	if want := DemoCompressor + "/pressure_bar"; pressure.StringID() != want || pressure.Namespace() != 1 {
		t.Errorf("node ID %s, want the path %s in ns=1 (docs/outputs.md)", pressure, want)
	}
	// The first value may be the simulated server's before its first tick
	// (0); the compressor's pressure is then a few bar.
	var dv *ua.DataValue
	waitFor(t, "a pressure of a few bar", func() bool {
		res, err := c.Read(t.Context(), &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: pressure, AttributeID: ua.AttributeIDValue}}})
		if err != nil || len(res.Results) != 1 || res.Results[0].Status != ua.StatusOK {
			t.Fatalf("read %s: %v %+v", pressure, err, res)
		}
		dv = res.Results[0]
		v, ok := dv.Value.Value().(float64)
		if !ok {
			t.Fatalf("pressure %v is a %T, want a Double", dv.Value.Value(), dv.Value.Value())
		}
		return v > 5 && v < 10
	})
	if dv.SourceTimestamp.IsZero() {
		t.Error("the value has no source timestamp")
	}
}
