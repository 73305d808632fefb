package hub_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/api"
)

// dmaAnswers is a whole DMA questionnaire, answered; its overall score
// is 1752.5/42 ≈ 41.7 (average), as internal/programme/dma works out.
const dmaAnswers = `{"company":{"name":"Acme Metaal","size":"small","sector":"C","country":"NL"},"questions":{
"q1":{"planned":["design","operations","security"],"invested":["operations","marketing","delivery","administration"]},
"q2":{"items":["needs","it","management","processes"]},
"q3":{"items":["connectivity","website","ecommerce","remote","systems"]},
"q4":{"levels":{"twins":0,"xr":0,"cadcam":5,"mes":3,"iot":4,"blockchain":0,"additive":2}},
"q5":{"items":["short","external","subsidised"]},
"q6":{"items":["awareness","communication","flexible","support"]},
"q7":{"items":["policy","stored","realtime"]},
"q8":{"items":["clients","backup","training"]},
"q9":{"levels":{"nlp":0,"vision":3,"audio":0,"robotics":4,"analytics":3}},
"q10":{"items":["materials","paperless","energy"]},
"q11":{"levels":{"strategy":0,"ems":1,"procurement":0,"energy":2,"recycling":1}}}}`

func assessmentBody(stage string) string {
	return fmt.Sprintf(`{"stage":%q,"answers":%s}`, stage, dmaAnswers)
}

// TestAssessments: a company's members and an advisor it consented to
// make its assessments, in order; nobody else sees them; every one is in
// the company's audit log; bad answers are refused with every problem
// named.
func TestAssessments(t *testing.T) {
	w := newWorld(t) // acme has a T0, made by its engineer's service account
	q := w.must(t, w.c["viewer"], "GET", "/api/v1/dma/questionnaire?lang=nl", "", 200)
	if q["lang"] != "nl" || len(q["dimensions"].([]any)) != 6 || !strings.Contains(fmt.Sprint(q["dimensions"]), "Groene digitalisering") {
		t.Errorf("questionnaire in Dutch: %.300v", q)
	}
	if code, _ := call(t, w.base, caller{name: "nobody"}, "GET", "/api/v1/dma/questionnaire?lang=fr", ""); code != 400 {
		t.Errorf("unknown language: %d, want 400", code)
	}

	t0 := w.must(t, w.c["viewer"], "GET", "/api/v1/assessments/"+w.ids["assessment"], "", 200)
	res := t0["result"].(map[string]any)
	if res["band"] != "average" || fmt.Sprintf("%.4f", res["overall"]) != "41.7262" {
		t.Errorf("T0 result: %v", res)
	}
	// T1 before its T0 is impossible: there is one; a second T0 is refused.
	if code, body := call(t, w.base, w.c["engineer"], "POST", "/api/v1/assessments", assessmentBody("T0")); code != 400 || !strings.Contains(body, "has one already") {
		t.Errorf("second T0: %d %s", code, body)
	}
	// A T2 before its T1 is refused; beta's T1 without a T0 too.
	if code, body := call(t, w.base, w.c["engineer"], "POST", "/api/v1/assessments", assessmentBody("T2")); code != 400 || !strings.Contains(body, "needs a T1 first") {
		t.Errorf("T2 before T1: %d %s", code, body)
	}
	if code, body := call(t, w.base, w.c["beta"], "POST", "/api/v1/assessments", assessmentBody("T1")); code != 400 || !strings.Contains(body, "needs a T0 first") {
		t.Errorf("beta's T1 without T0: %d %s", code, body)
	}
	// Contradictory and out-of-scale answers: both named, nothing stored.
	bad := strings.Replace(strings.Replace(assessmentBody("T1"), `"policy","stored"`, `"not-digital","stored"`, 1), `"vision":3`, `"vision":7`, 1)
	code, body := call(t, w.base, w.c["engineer"], "POST", "/api/v1/assessments", bad)
	if code != 400 || !strings.Contains(body, "not-digital") || !strings.Contains(body, "outside the scale") {
		t.Errorf("bad answers: %d %s", code, body)
	}
	// The viewer reads but does not submit.
	if code, _ := call(t, w.base, w.c["viewer"], "POST", "/api/v1/assessments", assessmentBody("T1")); code != 403 {
		t.Errorf("viewer submitting: %d, want 403", code)
	}
	if n := len(w.must(t, w.c["viewer"], "GET", "/api/v1/assessments", "", 200)["assessments"].([]any)); n != 1 {
		t.Errorf("acme has %d assessments after refusals, want 1", n)
	}

	// The hub's advisor, with an engineer's consent (instead of the
	// viewer's), makes acme's T1.
	w.must(t, w.c["owner"], "DELETE", "/api/v1/delegations/"+w.ids["delegation"], "", 200)
	w.must(t, w.c["owner"], "POST", "/api/v1/delegations", `{"advisor_email":"advisor@edih-a.test","role":"engineer","hours":24}`, 201)
	adv := w.switched(t, w.c["advisor"], "acme", api.RoleEngineer)
	better := strings.Replace(assessmentBody("T1"), `"q2":{"items":["needs","it","management","processes"]}`, `"q2":{"items":["needs","it","management","processes","finance","risks"]}`, 1)
	t1 := w.must(t, adv, "POST", "/api/v1/assessments", better, 201)
	if t1["actor_org"] != "edih-a" || t1["stage"] != "T1" {
		t.Errorf("T1 by the advisor: %v", t1)
	}
	cmp := w.must(t, w.c["viewer"], "GET", "/api/v1/assessments/comparison", "", 200)
	dims := cmp["dimensions"].([]any)
	strategy := dims[0].(map[string]any)
	if strategy["id"] != "strategy" || strategy["change"] != 10.0 {
		t.Errorf("strategy change: %v, want +10 (q2 from 4 to 6 of 10)", strategy)
	}
	for _, d := range dims[1:] {
		if d.(map[string]any)["change"] != 0.0 {
			t.Errorf("unchanged dimension changed: %v", d)
		}
	}
	list := w.must(t, w.c["viewer"], "GET", "/api/v1/assessments", "", 200)
	if next := list["next"].(map[string]any); next["stage"] != "T2" {
		t.Errorf("next: %v, want T2", next)
	}

	// The hub itself, without acting for acme, sees none of it.
	hub := login(t, w.base, "advisor@edih-a.test", api.RoleAdvisor)
	if code, _ := call(t, w.base, hub, "GET", "/api/v1/assessments/"+w.ids["assessment"], ""); code != 404 {
		t.Errorf("hub reading acme's assessment without acting for it: %d, want 404", code)
	}
	if code, body := call(t, w.base, hub, "GET", "/api/v1/assessments", ""); code != 200 || strings.Contains(body, w.ids["assessment"]) {
		t.Errorf("hub's own list: %d %s", code, body)
	}

	// Both assessments are in acme's audit log, the advisor's under the hub.
	entries := w.must(t, w.c["svc-admin"], "GET", "/api/v1/audit?action=dma.assessed", "", 200)["entries"].([]any)
	if len(entries) != 2 {
		t.Fatalf("acme's log has %d assessments, want 2: %v", len(entries), entries)
	}
	var viaHub int
	for _, e := range entries {
		if e.(map[string]any)["actor_org"] == "edih-a" {
			viaHub++
		}
	}
	if viaHub != 1 {
		t.Errorf("entries: %v, want one by the hub's advisor", entries)
	}
}
