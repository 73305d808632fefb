package hub_test

import (
	"strings"
	"testing"
)

// TestJourneyReportsAndLibrary: through the API, a hub's customer report
// carries its journey and comes as a PDF; recommendations, the EDIH report
// and the library stay within what each caller may see: another hub
// recommends nothing to the customer and its EDIH report holds none of
// it, a company reads only its own journey and not the library, and the
// public catalogue holds only public entries.
func TestJourneyReportsAndLibrary(t *testing.T) {
	w := newWorld(t)
	a, b, platform := staff(t, w)
	nobody := caller{name: "nobody"}
	w.must(t, a, "POST", "/api/v1/programme/customers", `{"org":"gamma","name":"Gamma B.V.","kvk":"30123456","size":"0-49","nace":"C25","nuts":"NL21","consent":true}`, 201)
	rep := w.must(t, a, "GET", "/api/v1/programme/customers/gamma?lang=nl", "", 200)
	if j, ok := rep["journey"].(map[string]any); !ok || j["recommendations"] == nil || j["timeline"] == nil {
		t.Errorf("the report's journey: %v", rep["journey"])
	}
	if code, _ := call(t, w.base, a, "GET", "/api/v1/programme/customers/gamma?lang=fr", ""); code != 400 {
		t.Errorf("an unknown language: %d", code)
	}
	code, pdf := call(t, w.base, a, "GET", "/api/v1/programme/customers/gamma/report.pdf", "")
	if code != 200 || !strings.HasPrefix(pdf, "%PDF-") {
		t.Errorf("the report as a PDF: %d %.20q", code, pdf)
	}
	for _, c := range []struct {
		who  caller
		path string
		body string
		want int
	}{
		{b, "/api/v1/programme/customers/gamma/report.pdf", "", 404},
		{b, "/api/v1/programme/customers/gamma/recommendations", `{"kind":"course","item":"x","dimension":"data"}`, 404},
		{a, "/api/v1/programme/customers/gamma/recommendations", `{"kind":"course","item":"no-such-course","dimension":"data"}`, 400},
		{a, "/api/v1/programme/edih-report?format=csv&table=people", "", 400},
		{a, "/api/v1/journey", "", 403},
		{w.c["owner"], "/api/v1/library", "", 403},
	} {
		method := "GET"
		if c.body != "" {
			method = "POST"
		}
		if code, body := call(t, w.base, c.who, method, c.path, c.body); code != c.want {
			t.Errorf("%s %s %s: %d %.200s, want %d", c.who.name, method, c.path, code, body, c.want)
		}
	}
	if _, csv := call(t, w.base, a, "GET", "/api/v1/programme/edih-report?format=csv&table=customers", ""); !strings.Contains(csv, "\nedih-a,gamma,Gamma B.V.,,30123456,SME,") {
		t.Errorf("edih-a's EDIH customers: %s", csv)
	}
	if _, csv := call(t, w.base, b, "GET", "/api/v1/programme/edih-report?format=csv&table=customers", ""); strings.Contains(csv, "gamma") {
		t.Errorf("edih-b's EDIH report holds edih-a's customer: %s", csv)
	}
	if j := w.must(t, platform, "GET", "/api/v1/programme/edih-report", "", 200); j["scope"] != "national" {
		t.Errorf("the programme office's EDIH report: %v", j["scope"])
	}
	// The library: a hub writes, another hub reads, the public sees the
	// public entries only.
	w.must(t, a, "PUT", "/api/v1/library/robot-case", `{"kind":"use-case","title_en":"Robots","title_nl":"Robots","body_en":"INTERNAL case","body_nl":"Intern","technologies":["robotics"],"sectors":["C25"]}`, 200)
	w.must(t, a, "PUT", "/api/v1/library/robot-lesson", `{"kind":"lesson","title_en":"Start small","title_nl":"Klein beginnen","body_en":"One cell first","body_nl":"Eerst één cel","technologies":["robotics"],"public":true}`, 200)
	if code, _ := call(t, w.base, b, "PUT", "/api/v1/library/robot-case", `{"kind":"use-case","title_en":"x","title_nl":"x","body_en":"x","body_nl":"x","technologies":["robotics"]}`); code != 409 {
		t.Errorf("edih-b taking edih-a's entry: %d", code)
	}
	if list := w.must(t, b, "GET", "/api/v1/library?q=internal", "", 200)["entries"].([]any); len(list) != 1 {
		t.Errorf("edih-b finding edih-a's entry: %v", list)
	}
	if _, body := call(t, w.base, nobody, "GET", "/api/v1/catalogue/library?technology=robotics", ""); !strings.Contains(body, "robot-lesson") || strings.Contains(body, "INTERNAL") {
		t.Errorf("the public library: %s", body)
	}
}
