package hub_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
)

// staff adds a hub edih-b, a fieldlab of edih-a, and signs in the staff
// of both hubs.
func staff(t *testing.T, w *world) (a, b, platform caller) {
	t.Helper()
	ctx := t.Context()
	au := w.Auth()
	for _, o := range []auth.Org{
		{ID: "edih-b", Name: "EDIH B", Kind: auth.Hub, Parent: auth.PlatformOrg},
		{ID: "lab-robots", Name: "Fieldlab Robots", Kind: auth.Fieldlab, Parent: "edih-a"},
		{ID: "lab-quiet", Name: "Fieldlab Quiet", Kind: auth.Fieldlab, Parent: "edih-a"},
	} {
		if err := au.CreateOrg(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []struct{ email, org string }{{"admin@edih-a.test", "edih-a"}, {"admin@edih-b.test", "edih-b"}} {
		u, err := au.CreateUser(ctx, p.email, "Admin "+p.org, testPassword)
		if err != nil {
			t.Fatal(err)
		}
		if err := au.AddMember(ctx, u.ID, p.org, api.RoleAdmin); err != nil {
			t.Fatal(err)
		}
	}
	return login(t, w.base, "admin@edih-a.test", api.RoleAdmin), login(t, w.base, "admin@edih-b.test", api.RoleAdmin), w.c["platform"]
}

// TestCatalogueAndCustomers: through the API, a hub describes itself and
// its fieldlabs; anyone finds them in the public catalogue, which holds
// nothing that is not public; the hub registers a customer (made as a
// company below it), refuses its chamber of commerce number twice,
// records services (a large company at the market price only), and reads
// its KPIs and snapshots, while another hub reads nothing of it.
func TestCatalogueAndCustomers(t *testing.T) {
	w := newWorld(t)
	a, b, platform := staff(t, w)
	nobody := caller{name: "nobody"}

	w.must(t, a, "PUT", "/api/v1/programme/hub", `{"regions":["NL21","NL13"],"description_en":"Smart industry in the east","description_nl":"Slimme industrie in het oosten","website":"https://edih-a.test"}`, 200)
	w.must(t, a, "PUT", "/api/v1/programme/fieldlabs/lab-robots", `{"name":"Fieldlab Robots","region":"NL21","technologies":["robotics","vision"],
		"services":["test-before-invest","skills"],"facilities":["cobot cell"],"partners":["Saxion"],"use_cases":["welding cobot"],
		"description_en":"Try a cobot","description_nl":"Probeer een cobot","notes":"INTERNAL: margin 40%","public":true}`, 200)
	w.must(t, a, "PUT", "/api/v1/programme/fieldlabs/lab-quiet", `{"name":"Fieldlab Quiet","region":"NL21","technologies":["robotics"],"notes":"INTERNAL: not yet"}`, 200)
	// Another hub cannot describe edih-a's fieldlab: as one that does not exist.
	for _, id := range []string{"lab-robots", "does-not-exist"} {
		if code, body := call(t, w.base, b, "PUT", "/api/v1/programme/fieldlabs/"+id, `{"name":"x","region":"NL41"}`); code != 404 {
			t.Errorf("edih-b setting %s: %d %s", id, code, body)
		}
	}
	if code, body := call(t, w.base, a, "PUT", "/api/v1/programme/fieldlabs/lab-robots", `{"name":"x","region":"NL21","technologies":["magic"]}`); code != 400 || !strings.Contains(body, `unknown \"magic\"`) {
		t.Errorf("unknown technology: %d %s", code, body)
	}

	cat := w.must(t, nobody, "GET", "/api/v1/catalogue?lang=nl&region=NL13&technology=robotics", "", 200)
	raw := fmt.Sprint(cat)
	if labs := cat["fieldlabs"].([]any); len(labs) != 1 || labs[0].(map[string]any)["description"] != "Probeer een cobot" {
		t.Errorf("catalogue: %v", raw)
	}
	if !strings.Contains(raw, "Slimme industrie in het oosten") || !strings.Contains(raw, "Robotica en cobots") {
		t.Errorf("catalogue in Dutch: %v", raw)
	}
	for _, leak := range []string{"INTERNAL", "Fieldlab Quiet", "Acme", "acme"} {
		if strings.Contains(raw, leak) {
			t.Errorf("the public catalogue holds %q: %v", leak, raw)
		}
	}
	if code, _ := call(t, w.base, nobody, "GET", "/api/v1/catalogue?region=DE11", ""); code != 400 {
		t.Errorf("unknown region: %d", code)
	}

	// Customers.
	gamma := `{"org":"gamma","name":"Gamma Gieterij B.V.","kvk":"30123456","vat":"NL123456789B01","size":"250+","nace":"C24","nuts":"NL21","contact_name":"Gea","contact_email":"gea@gamma.test","consent":true}`
	w.must(t, a, "POST", "/api/v1/programme/customers", gamma, 201)
	if o, err := w.Auth().Org(t.Context(), "gamma"); err != nil || o.Kind != auth.Company || o.Parent != "edih-a" {
		t.Errorf("gamma's organisation: %+v %v", o, err)
	}
	dup := strings.Replace(gamma, `"org":"gamma"`, `"org":"gamma-2"`, 1)
	if code, body := call(t, w.base, a, "POST", "/api/v1/programme/customers", dup); code != 409 || !strings.Contains(body, "kvk 30123456") {
		t.Errorf("duplicate kvk: %d %s", code, body)
	}
	if code, body := call(t, w.base, b, "POST", "/api/v1/programme/customers", dup); code != 409 || strings.Contains(strings.ReplaceAll(body, "gamma-2", ""), "gamma") || strings.Contains(body, "edih-a") {
		t.Errorf("duplicate kvk at another hub: %d %s (must not name the other hub's customer)", code, body)
	}
	if code, body := call(t, w.base, a, "POST", "/api/v1/programme/customers/gamma/services",
		`{"type":"test-before-invest","day":"2026-05-04","provider":"lab-robots","price":250000,"market_price":750000,"subsidy":500000}`); code != 400 || !strings.Contains(body, "market price") {
		t.Errorf("large company, subsidised: %d %s", code, body)
	}
	w.must(t, a, "POST", "/api/v1/programme/customers/gamma/services",
		`{"type":"test-before-invest","day":"2026-05-04","provider":"lab-robots","price":750000,"market_price":750000,"investment":12000000,"people":3}`, 201)
	rep := w.must(t, a, "GET", "/api/v1/programme/customers/gamma", "", 200)
	if s := rep["services"].([]any); len(s) != 1 || rep["customer"].(map[string]any)["kvk"] != "30123456" {
		t.Errorf("report: %v", rep)
	}
	if rep["evidence"] != nil {
		t.Errorf("gamma shares no data with its hub, but its report holds evidence: %v", rep["evidence"])
	}
	if p := rep["peers"].(map[string]any); p["shown"] != false {
		t.Errorf("a peer group of none is shown: %v", p)
	}
	// acme, an existing company below edih-a that shares its series with
	// it, becomes a customer: its report holds what molen measures.
	w.must(t, a, "POST", "/api/v1/programme/customers", `{"org":"acme","name":"Acme Metaal B.V.","kvk":"30999999","size":"0-49","nace":"C25","nuts":"NL21","consent":true}`, 201)
	ev, _ := w.must(t, a, "GET", "/api/v1/programme/customers/acme", "", 200)["evidence"].(map[string]any)
	if ev == nil || ev["edges"] != 1.0 || ev["series"] != 1.0 || ev["machines"] != 1.0 {
		t.Errorf("acme's evidence: %v", ev)
	}
	// acme sees its own evidence and its (too small) peer group beside its assessments.
	own := w.must(t, w.c["viewer"], "GET", "/api/v1/assessments", "", 200)
	if ev, _ := own["evidence"].(map[string]any); ev == nil || ev["edges"] != 1.0 {
		t.Errorf("acme's own evidence: %v", own["evidence"])
	}
	if p, _ := own["peers"].(map[string]any); p == nil || p["shown"] != false || p["region"] != "NL21" {
		t.Errorf("acme's peers: %v", own["peers"])
	}
	// Another hub: gamma answers as a customer that does not exist.
	for _, p := range []string{"/api/v1/programme/customers/gamma", "/api/v1/programme/customers/does-not-exist"} {
		if code, body := call(t, w.base, b, "GET", p, ""); code != 404 || strings.Contains(body, "gamma") {
			t.Errorf("edih-b reading %s: %d %s", p, code, body)
		}
	}
	if code, _ := call(t, w.base, b, "POST", "/api/v1/programme/customers/gamma/services", `{"type":"skills","day":"2026-05-04","provider":"x"}`); code != 404 {
		t.Errorf("edih-b recording for gamma: %d", code)
	}
	if list := w.must(t, b, "GET", "/api/v1/programme/customers", "", 200)["customers"].([]any); len(list) != 0 {
		t.Errorf("edih-b's customers: %v", list)
	}

	// KPIs: the hub's own, the national view of the platform, CSV.
	k := w.must(t, a, "GET", "/api/v1/programme/kpi", "", 200)
	if k["scope"] != "edih-a" || fmt.Sprint(k["investment_triggered"]) != "1.2e+07" || fmt.Sprint(k["customers_by_size"]) != "map[0-49:1 250+:1]" {
		t.Errorf("edih-a's KPIs: %v", k)
	}
	if kb := w.must(t, b, "GET", "/api/v1/programme/kpi", "", 200); fmt.Sprint(kb["customers_by_size"]) != "map[]" {
		t.Errorf("edih-b's KPIs hold edih-a's: %v", kb)
	}
	if n := w.must(t, platform, "GET", "/api/v1/programme/kpi", "", 200); n["scope"] != "national" {
		t.Errorf("national KPIs: %v", n)
	}
	code, csv := call(t, w.base, a, "GET", "/api/v1/programme/kpi?format=csv", "")
	if code != 200 || !strings.HasPrefix(csv, "scope,metric,key,value\n") || !strings.Contains(csv, "edih-a,customers_by_service_type,test-before-invest,1\n") {
		t.Errorf("CSV: %d %s", code, csv)
	}
	if code, _ := call(t, w.base, w.c["owner"], "GET", "/api/v1/programme/kpi", ""); code != 403 {
		t.Errorf("a company reading KPIs: %d, want 403", code)
	}
	w.must(t, a, "POST", "/api/v1/programme/snapshots", `{"month":"2026-01"}`, 201)
	if code, body := call(t, w.base, a, "POST", "/api/v1/programme/snapshots", `{"month":"2026-01"}`); code != 409 || !strings.Contains(body, "frozen already") {
		t.Errorf("second snapshot: %d %s", code, body)
	}
	if sn := w.must(t, a, "GET", "/api/v1/programme/snapshots/2026-01", "", 200); sn["month"] != "2026-01" {
		t.Errorf("snapshot: %v", sn)
	}
	if code, _ := call(t, w.base, b, "GET", "/api/v1/programme/snapshots/2026-01", ""); code != 404 {
		t.Errorf("edih-b reading edih-a's snapshot: %d", code)
	}
	// The hub's advisor registers a customer and records a service (the
	// advisor role reads elsewhere); the hub's admin sees both.
	adv := w.c["advisor"]
	w.must(t, adv, "POST", "/api/v1/programme/customers", `{"org":"delta","name":"Delta Draaiwerk","kvk":"30222222","size":"0-49","nace":"C25","nuts":"NL21","consent":true}`, 201)
	w.must(t, adv, "POST", "/api/v1/programme/customers/delta/services", `{"type":"skills","day":"2026-05-06","provider":"lab-robots","price":0,"market_price":90000,"subsidy":90000,"people":4}`, 201)
	if s := w.must(t, a, "GET", "/api/v1/programme/customers/delta", "", 200)["services"].([]any); len(s) != 1 {
		t.Errorf("delta's services as the admin sees them: %v", s)
	}
	if code, body := call(t, w.base, adv, "PUT", "/api/v1/programme/fieldlabs/lab-robots", `{"name":"x","region":"NL21"}`); code != 403 {
		t.Errorf("an advisor describing a fieldlab (admins do): %d %s", code, body)
	}
}
