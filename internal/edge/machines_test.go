package edge_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/molen-io/molen/internal/connector/mtconnect/mtconnecttest"
	"github.com/molen-io/molen/internal/connector/s7/s7test"
)

// TestMTConnectInputReachesTheHub: an MTConnect agent's sample reaches the
// hub as a point, and its condition as an event that opens with a Fault
// and closes with Normal.
func TestMTConnectInputReachesTheHub(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	agent := mtconnecttest.NewAgent("vmc", 1024,
		mtconnecttest.DataItem{ID: "Stemp", Category: mtconnecttest.Sample, Type: "Temperature"},
		mtconnecttest.DataItem{ID: "logic", Category: mtconnecttest.Condition, Type: "LOGIC_PROGRAM"})
	if _, err := agent.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Stop() })
	file := filepath.Join(t.TempDir(), "inputs.yaml")
	spec := fmt.Sprintf(`inputs:
  - mtconnect:
      url: %s
      device: vmc
      poll_interval: 50ms
      items:
        - {id: Stemp, path: f/vmc/spindle_temp_c}
        - {id: logic, path: f/vmc}
`, agent.URL())
	if err := os.WriteFile(file, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	v.cfg.InputsFile = file
	v.startEdge()
	agent.Set("Stemp", "41.5")
	agent.SetCondition("logic", mtconnecttest.Fault, "1001", "Program error")
	eventually(t, "the sample at the hub", func() bool { return v.latest("f/vmc")["f/vmc/spindle_temp_c"] == 41.5 })
	var out hubEvents
	eventually(t, "the open condition at the hub", func() bool {
		v.getJSON("/api/v1/events?asset=f/vmc&kind=condition&from=-2h", &out)
		return len(out.Events) == 1
	})
	if e := out.Events[0]; e.End != 0 || e.Attrs["level"] != "fault" || e.Attrs["native_code"] != "1001" || e.Attrs["message"] != "Program error" {
		t.Errorf("condition event %+v, want an open fault 1001", e)
	}
	agent.SetCondition("logic", mtconnecttest.Normal, "", "")
	eventually(t, "the condition closed at the hub", func() bool {
		v.getJSON("/api/v1/events?asset=f/vmc&kind=condition&from=-2h", &out)
		return len(out.Events) == 1 && out.Events[0].End != 0
	})
}

// TestS7InputReachesTheHub: values of a data block of an S7 PLC reach the
// hub.
func TestS7InputReachesTheHub(t *testing.T) {
	v := start(t)
	if err := v.edge.Close(); err != nil {
		t.Fatal(err)
	}
	plc, err := s7test.NewServer(240)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plc.Close() })
	plc.SetDB(5, []byte{0x00, 0xd7, 0x01}) // int 215, a bool in bit 0
	file := filepath.Join(t.TempDir(), "inputs.yaml")
	spec := fmt.Sprintf(`inputs:
  - s7:
      address: %s
      poll_interval: 100ms
      items:
        - {path: f/plc/temp_dc, db: 5, byte: 0, type: int}
        - {path: f/plc/running, db: 5, byte: 2, bit: 0, type: bool}
`, plc.Addr())
	if err := os.WriteFile(file, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	v.cfg.InputsFile = file
	v.startEdge()
	eventually(t, "the PLC's values at the hub", func() bool {
		l := v.latest("f/plc")
		return l["f/plc/temp_dc"] == 215.0 && l["f/plc/running"] == true
	})
	if st := inputStatus(v.edge); st.State != "connected" || st.Kind != "s7" {
		t.Errorf("input status %+v, want a connected s7 input", st)
	}
}
