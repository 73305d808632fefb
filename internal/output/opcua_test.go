package output

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/molen-io/molen/internal/uns"
)

// startOPCUA runs an opcua output on a free port and connects a gopcua
// client to it.
func startOPCUA(t *testing.T) (*opcuaSink, *gopcua.Client) {
	t.Helper()
	cfg := &OPCUAConfig{Listen: "127.0.0.1:0", Namespace: "urn:molen:test", Security: "none"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := newOPCUA(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-s.ready:
	case err := <-done:
		t.Fatal(err)
	}
	c, err := gopcua.NewClient(s.Target(), gopcua.SecurityMode(ua.MessageSecurityModeNone), gopcua.AuthAnonymous())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return s, c
}

// browse returns the browse names of the forward references of nid, and
// their node IDs by name.
func browse(t *testing.T, c *gopcua.Client, nid *ua.NodeID) (names []string, ids map[string]*ua.NodeID) {
	t.Helper()
	res, err := c.Browse(t.Context(), &ua.BrowseRequest{NodesToBrowse: []*ua.BrowseDescription{{
		NodeID: nid, BrowseDirection: ua.BrowseDirectionForward, ReferenceTypeID: ua.NewNumericNodeID(0, id.HierarchicalReferences),
		IncludeSubtypes: true, ResultMask: uint32(ua.BrowseResultMaskAll)}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 1 || res.Results[0].StatusCode != ua.StatusOK {
		t.Fatalf("browse %s: %+v", nid, res.Results)
	}
	ids = map[string]*ua.NodeID{}
	for _, r := range res.Results[0].References {
		names = append(names, r.BrowseName.Name)
		ids[r.BrowseName.Name] = r.NodeID.NodeID
	}
	return names, ids
}

func read(t *testing.T, c *gopcua.Client, nid *ua.NodeID) *ua.DataValue {
	t.Helper()
	res, err := c.Read(t.Context(), &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: nid, AttributeID: ua.AttributeIDValue}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Results[0]
}

// TestOPCUAOutput: a client browses the UNS tree from the Objects folder,
// reads the latest values with their qualities and timestamps, and a
// subscription sees a new value.
func TestOPCUAOutput(t *testing.T) {
	s, c := startOPCUA(t)
	ts := time.Unix(1_700_000_000, 0)
	pts := []uns.Point{
		{Series: "plant/hall-a/press/temp", TS: ts.UnixNano(), Value: uns.Float(21.5)},
		{Series: "plant/hall-a/press/state", TS: ts.UnixNano(), Value: uns.String("running")},
		{Series: "plant/hall-b/pump/on", TS: ts.UnixNano(), Value: uns.Bool(true), Quality: uns.Uncertain},
		{Series: "plant/hall-a/press/temp", TS: ts.Add(time.Second).UnixNano(), Value: uns.Float(22)},
	}
	if err := s.Send(t.Context(), pts); err != nil {
		t.Fatal(err)
	}
	_, objects := browse(t, c, ua.NewNumericNodeID(0, id.ObjectsFolder))
	root := objects[unsRoot]
	if root == nil {
		t.Fatalf("no %s in the Objects folder: %v", unsRoot, objects)
	}
	path := root
	for _, level := range []struct {
		want []string
		next string
	}{{[]string{"plant"}, "plant"}, {[]string{"hall-a", "hall-b"}, "hall-a"}, {[]string{"press"}, "press"}, {[]string{"state", "temp"}, "temp"}} {
		names, ids := browse(t, c, path)
		if !slices.Equal(names, level.want) {
			t.Fatalf("browse %s: %v, want %v", path, names, level.want)
		}
		path = ids[level.next]
	}
	if dv := read(t, c, path); dv.Status != ua.StatusOK || dv.Value.Value() != 22.0 || !dv.SourceTimestamp.Equal(ts.Add(time.Second)) {
		t.Errorf("temp: %v %v at %v", dv.Status, dv.Value.Value(), dv.SourceTimestamp)
	}
	on := ua.NewStringNodeID(s.space.id, "plant/hall-b/pump/on")
	if dv := read(t, c, on); dv.Status != ua.StatusUncertain || dv.Value.Value() != true {
		t.Errorf("pump on: %v %v", dv.Status, dv.Value.Value())
	}
	if dv := read(t, c, ua.NewStringNodeID(s.space.id, "plant/nothing")); dv.Status != ua.StatusBadNodeIDUnknown {
		t.Errorf("an unknown node: %v", dv.Status)
	}

	// A subscription to temp sees its next value.
	notifs := make(chan *gopcua.PublishNotificationData, 16)
	sub, err := c.Subscribe(t.Context(), &gopcua.SubscriptionParameters{Interval: 50 * time.Millisecond}, notifs)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel(context.Background())
	if _, err := sub.Monitor(t.Context(), ua.TimestampsToReturnBoth, gopcua.NewMonitoredItemCreateRequestWithDefaults(path, ua.AttributeIDValue, 7)); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), []uns.Point{{Series: "plant/hall-a/press/temp", TS: ts.Add(2 * time.Second).UnixNano(), Value: uns.Float(23.5)}}); err != nil {
		t.Fatal(err)
	}
	for n := range notifs {
		if n.Error != nil {
			t.Fatal(n.Error)
		}
		dc, ok := n.Value.(*ua.DataChangeNotification)
		if !ok {
			continue
		}
		if slices.ContainsFunc(dc.MonitoredItems, func(m *ua.MonitoredItemNotification) bool {
			return m.ClientHandle == 7 && m.Value.Value.Value() == 23.5
		}) {
			break
		}
	}
}

// TestOPCUAGrowsWhileBrowsed: series appear while clients browse and read
// (run with -race: the address space is one lock's).
func TestOPCUAGrowsWhileBrowsed(t *testing.T) {
	s, c := startOPCUA(t)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			_ = s.Send(t.Context(), []uns.Point{{Series: fmt.Sprintf("plant/line-%d/m/t", i%7), TS: int64(i), Value: uns.Int(int64(i))},
				{Series: fmt.Sprintf("plant/line-%d/m%d/t", i%7, i), TS: int64(i), Value: uns.Int(int64(i))}})
		}
	})
	root := ua.NewStringNodeID(s.space.id, "plant")
	for range 50 {
		browse(t, c, root)
		read(t, c, ua.NewStringNodeID(s.space.id, "plant/line-0/m/t"))
	}
	wg.Wait()
	names, _ := browse(t, c, root)
	if len(names) != 7 {
		t.Errorf("lines: %v, want 7", names)
	}
	names, _ = browse(t, c, ua.NewStringNodeID(s.space.id, "plant/line-3"))
	if len(names) != 200/7+1+1 { // m, and m3, m10, … m199
		t.Errorf("machines of line-3: %d %v", len(names), names)
	}
}
