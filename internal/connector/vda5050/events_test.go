package vda5050_test

import (
	"testing"

	"github.com/molen-io/molen/internal/connector/vda5050"
	"github.com/molen-io/molen/internal/uns"
)

func TestEvents(t *testing.T) {
	const a = "p/h/agv/m-s"
	warn := vda5050.Error{Type: "obstacle", Level: "WARNING", Description: "ahead", Since: 10}
	fatal := vda5050.Error{Type: "motor", Level: "FATAL", Since: 20}
	escalated := warn
	escalated.Level, escalated.Since = "FATAL", 30
	snap := func(ts int64, conn string, since int64, errs ...vda5050.Error) vda5050.Snapshot {
		return vda5050.Snapshot{Asset: a, TS: ts, Connection: conn, ConnectionSince: since, Errors: errs}
	}
	type ev struct {
		kind       string
		start, end int64
		errorType  string
	}
	tests := []struct {
		name      string
		prev, cur vda5050.Snapshot
		want      []ev
	}{
		{"nothing", vda5050.Snapshot{}, snap(10, "", 0), nil},
		{"error appears", snap(5, "", 0), snap(10, "", 0, warn), []ev{{vda5050.KindError, 10, 0, "obstacle"}}},
		{"error stays", snap(10, "", 0, warn), snap(15, "", 0, warn), nil},
		{"second error", snap(10, "", 0, warn), snap(20, "", 0, warn, fatal), []ev{{vda5050.KindError, 20, 0, "motor"}}},
		{"order changes only", snap(20, "", 0, warn, fatal), snap(25, "", 0, fatal, warn), nil},
		{"error gone", snap(20, "", 0, warn, fatal), snap(25, "", 0, fatal), []ev{{vda5050.KindError, 10, 25, "obstacle"}}},
		{"escalated is new", snap(20, "", 0, warn), snap(30, "", 0, escalated), []ev{
			{vda5050.KindError, 30, 0, "obstacle"}, {vda5050.KindError, 10, 30, "obstacle"}}},
		{"broken", snap(5, vda5050.Online, 1), snap(7, vda5050.ConnectionBroken, 7), []ev{{vda5050.KindConnectionBroken, 7, 0, ""}}},
		{"first message broken", vda5050.Snapshot{}, snap(7, vda5050.ConnectionBroken, 7), []ev{{vda5050.KindConnectionBroken, 7, 0, ""}}},
		{"still broken", snap(7, vda5050.ConnectionBroken, 7), snap(9, vda5050.ConnectionBroken, 7), nil},
		{"back online", snap(7, vda5050.ConnectionBroken, 7), snap(12, vda5050.Online, 12), []ev{{vda5050.KindConnectionBroken, 7, 12, ""}}},
		{"offline after broken", snap(7, vda5050.ConnectionBroken, 7), snap(12, vda5050.Offline, 12), []ev{{vda5050.KindConnectionBroken, 7, 12, ""}}},
		{"offline", snap(7, vda5050.Online, 1), snap(12, vda5050.Offline, 12), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := vda5050.Events(tt.prev, tt.cur)
			if len(got) != len(tt.want) {
				t.Fatalf("Events = %+v, want %+v", got, tt.want)
			}
			for i, e := range got {
				w := tt.want[i]
				if e.Asset != a || e.Kind != w.kind || e.Start != w.start || e.End != w.end || e.Attrs["errorType"] != w.errorType {
					t.Errorf("event %d = %+v, want %+v", i, e, w)
				}
				if err := uns.ValidateEvent(e); err != nil {
					t.Errorf("event %d: %v", i, err)
				}
			}
		})
	}
}
