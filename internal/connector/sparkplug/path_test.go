package sparkplug

import "testing"

func TestTemplateApply(t *testing.T) {
	tests := []struct {
		tpl, group, node, device, metric string
		want                             string // "" for an error
	}{
		{DefaultPath, "plant-1", "gw-1", "", "Temp", "plant-1/gw-1/Temp"},
		{DefaultPath, "plant-1", "gw-1", "press 3", "Motor/RPM", "plant-1/gw-1/press_3/Motor/RPM"},
		{DefaultPath, "g", "n", "", "Temp (°C)", "g/n/Temp____C_"},
		{DefaultPath, "g", "n", "", ".hidden//x/", "g/n/_hidden/_/x/_"},
		{DefaultPath, "g", "n", "", "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o", ""},
		{"site/{group}-{edge_node}/{metric}", "hall", "7", "d", "t", "site/hall-7/t"},
		{"site/{device}/{metric}", "g", "n", "", "t", "site/t"},
	}
	for _, tt := range tests {
		tpl, err := parseTemplate(tt.tpl)
		if err != nil {
			t.Fatalf("parseTemplate(%q): %v", tt.tpl, err)
		}
		got, err := tpl.apply(tt.group, tt.node, tt.device, tt.metric)
		if tt.want == "" {
			if err == nil {
				t.Errorf("apply(%q, %q): %q, want an error", tt.tpl, tt.metric, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("apply(%q, %q, %q, %q, %q) = %q, %v; want %q", tt.tpl, tt.group, tt.node, tt.device, tt.metric, got, err, tt.want)
		}
	}
}

func TestParseTopic(t *testing.T) {
	tests := []struct {
		in   string
		want Topic
		ok   bool
	}{
		{"spBv1.0/g/NBIRTH/n", Topic{"g", NBIRTH, "n", ""}, true},
		{"spBv1.0/g/DDATA/n/d", Topic{"g", DDATA, "n", "d"}, true},
		{"spBv1.0/g/DDATA/n", Topic{}, false},
		{"spBv1.0/g/NDATA/n/d", Topic{}, false},
		{"spBv1.0/g/NDATA/n/d/e", Topic{}, false},
		{"spBv1.0/STATE/host", Topic{}, false},
		{"spAv1.0/g/NDATA/n", Topic{}, false},
		{"spBv1.0//NDATA/n", Topic{}, false},
	}
	for _, tt := range tests {
		got, err := ParseTopic(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseTopic(%q) = %+v, %v; want %+v (ok %t)", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.String() != tt.in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
}
