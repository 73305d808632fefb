package vda5050test

import (
	"encoding/json"
	"testing"
	"time"
)

// TestAGVDay runs the model for two simulated hours: it drives its route,
// carries loads, drains its battery and charges it, and reports errors that
// clear; every message it writes is JSON with the VDA 5050 header.
func TestAGVDay(t *testing.T) {
	a := NewAGV("acme", "agv-1", 7)
	var charged, loaded, errored, drove bool
	nodes := map[string]bool{}
	for range 7200 {
		a.Step(time.Second)
		charged = charged || a.Charging
		loaded = loaded || len(a.Loads) > 0
		errored = errored || len(a.Errors) > 0
		drove = drove || a.Driving
		nodes[a.LastNodeID] = true
		if a.Battery < 0 || a.Battery > 100 {
			t.Fatalf("battery %v", a.Battery)
		}
	}
	if !charged || !loaded || !errored || !drove || len(nodes) != len(a.Route) {
		t.Errorf("charged %t, loaded %t, errored %t, drove %t, nodes %v", charged, loaded, errored, drove, nodes)
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for name, msg := range map[string][]byte{"state": a.State(now), "visualization": a.Visualization(now), "connection": a.ConnectionMessage(now)} {
		var h struct {
			HeaderID     int    `json:"headerId"`
			Timestamp    string `json:"timestamp"`
			SerialNumber string `json:"serialNumber"`
		}
		if err := json.Unmarshal(msg, &h); err != nil || h.HeaderID != 1 || h.Timestamp != "2024-05-01T12:00:00.000Z" || h.SerialNumber != "agv-1" {
			t.Errorf("%s: %+v, %v", name, h, err)
		}
	}
	if got := a.Topic("state"); got != "uagv/v2/acme/agv-1/state" {
		t.Errorf("topic %q", got)
	}
}
