package programme

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/meta/metatest"
)

var (
	adminA = api.Principal{Org: "edih-a", OrgKind: "hub", Role: api.RoleAdmin, User: "usr_a"}
	adminB = api.Principal{Org: "edih-b", OrgKind: "hub", Role: api.RoleAdmin, User: "usr_b"}
)

func course(id, provider string) Course {
	return Course{ID: id, TitleEN: "Sensors on old machines", TitleNL: "Sensoren op oude machines", DescriptionEN: "Retrofit", DescriptionNL: "Retrofit",
		Technology: "iot", Dimensions: []string{"readiness", "data"}, Hours: 4, Provider: provider, Modules: []string{"Why", "How"}, Public: true}
}

// TestCourses: a hub's admins keep courses and routes of their own; bad
// courses are refused naming every problem and counted; another hub's
// course ID, fieldlab or course in a route is refused.
func TestCourses(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		w := newService(t, db, nil)
		s := w.s
		if _, err := s.SetCourse(ctx, adminA, course("sensors", "lab-a"), ""); err != nil {
			t.Fatal(err)
		}
		bad := course("bad", "lab-b")
		bad.Hours, bad.Technology, bad.Dimensions, bad.TitleNL = 7, "magic", []string{"vibes"}, ""
		_, err := s.SetCourse(ctx, adminA, bad, "")
		if !errors.Is(err, api.ErrBadRequest) {
			t.Fatalf("bad course: %v", err)
		}
		for _, want := range []string{"hours", "technology", "dimensions", "title_nl", "provider"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("bad course: %v does not name %s", err, want)
			}
		}
		if got := testutil.ToFloat64(s.rejectedAcademy.WithLabelValues("course")); got != 1 {
			t.Errorf("refused courses counted %v, want 1", got)
		}
		if _, err := s.SetCourse(ctx, adminB, course("sensors", "edih-b"), ""); !errors.Is(err, api.ErrConflict) {
			t.Errorf("edih-b taking edih-a's course ID: %v, want conflict", err)
		}
		if _, err := s.SetRoute(ctx, adminB, LearningRoute{ID: "r", TitleEN: "R", TitleNL: "R", Courses: []string{"sensors"}}, ""); !errors.Is(err, api.ErrBadRequest) {
			t.Errorf("edih-b routing edih-a's course: %v", err)
		}
		if _, err := s.SetCourse(ctx, adminA, Course{ID: "ai-intro", TitleEN: "AI", TitleNL: "AI", Technology: "ai", Dimensions: []string{"automation"}, Hours: 2, Provider: "edih-a"}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetRoute(ctx, adminA, LearningRoute{ID: "starter", TitleEN: "Starter", TitleNL: "Starter", Courses: []string{"sensors", "ai-intro"}}, ""); err != nil {
			t.Fatal(err)
		}
		routes, err := s.LearningRoutes(ctx, "edih-a")
		if err != nil || len(routes) != 1 || strings.Join(routes[0].Courses, ",") != "sensors,ai-intro" {
			t.Errorf("routes: %+v, %v", routes, err)
		}
		pub, err := s.Courses(ctx, "", true)
		if err != nil || len(pub) != 1 || pub[0].ID != "sensors" {
			t.Errorf("public courses: %+v, %v (ai-intro is not public)", pub, err)
		}
	})
}

// TestAcademyPeopleCountedOnce: a person enrolled and trained through two
// hubs (their address written differently) is one learner, counted once
// in the national people upskilled and once at each hub; the academy
// replaces a hub's skills service records' people; no address reaches
// the KPIs or the audit log; bad input is refused and counted.
func TestAcademyPeopleCountedOnce(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		w := newService(t, db, nil)
		s := w.s
		if _, err := s.Register(ctx, hubA, company("acme", "11111111", SizeSmall), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Record(ctx, hubA, ServiceRecord{Company: "acme", Type: "skills", Day: "2026-05-02", Provider: "lab-a", People: 8}, ""); err != nil {
			t.Fatal(err)
		}
		upskilled := func(scope string) int64 {
			t.Helper()
			k, err := s.KPIs(ctx, scope)
			if err != nil {
				t.Fatal(err)
			}
			for _, tg := range k.Targets {
				if tg.ID == "people-upskilled" {
					return tg.Value
				}
			}
			t.Fatal("no people-upskilled")
			return 0
		}
		if got := upskilled(National); got != 8 {
			t.Fatalf("before the academy: %d upskilled, want the service record's 8", got)
		}
		for _, c := range []struct {
			p  api.Principal
			id string
		}{{adminA, "sensors-a"}, {adminB, "sensors-b"}} {
			if _, err := s.SetCourse(ctx, c.p, course(c.id, c.p.Org), ""); err != nil {
				t.Fatal(err)
			}
		}
		// Refused: a bad address, another hub's course, a company not the hub's.
		for _, c := range []struct{ email, course, company string }{
			{"not an address", "sensors-a", ""}, {"Jan <jan@x.nl>", "sensors-a", ""}, {"jan@x.nl", "sensors-b", ""}, {"jan@x.nl", "sensors-a", "delta"},
		} {
			if _, err := s.Enrol(ctx, hubA, c.email, "Jan", c.course, c.company, ""); !errors.Is(err, api.ErrBadRequest) {
				t.Errorf("enrol %+v: %v, want bad request", c, err)
			}
		}
		if got := testutil.ToFloat64(s.rejectedAcademy.WithLabelValues("learner")) + testutil.ToFloat64(s.rejectedAcademy.WithLabelValues("enrolment")); got != 4 {
			t.Errorf("refused enrolments counted %v, want 4", got)
		}
		a, err := s.Enrol(ctx, hubA, "Jan.de.Vries@Example.NL", "Jan de Vries", "sensors-a", "acme", "")
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.Enrol(ctx, hubA, "jan.de.vries@example.nl", "Jan de Vries", "sensors-a", "", "")
		if err != nil || again.ID != a.ID {
			t.Errorf("enrolling again: %s, %v, want the enrolment there is, %s", again.ID, err, a.ID)
		}
		b, err := s.Enrol(ctx, hubB, " jan.de.vries@example.nl ", "J. de Vries", "sensors-b", "", "")
		if err != nil {
			t.Fatal(err)
		}
		if a.Learner != b.Learner || !strings.HasPrefix(a.Learner, "lrn_") {
			t.Fatalf("learners %s and %s: want one pseudonym", a.Learner, b.Learner)
		}
		if got := upskilled(National); got != 8 {
			t.Errorf("enrolled, none completed: %d, want 8", got)
		}
		if _, _, err := s.Complete(ctx, hubA, a.ID, "2099-01-01", ""); !errors.Is(err, api.ErrBadRequest) {
			t.Errorf("completion in the future: %v", err)
		}
		if _, _, err := s.Complete(ctx, hubB, a.ID, "", ""); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("edih-b completing edih-a's enrolment: %v, want not found", err)
		}
		if _, _, err := s.Complete(ctx, hubA, a.ID, "", ""); err != nil {
			t.Fatal(err)
		}
		// edih-a's academy replaces its skills records: one person, not 8.
		if got := upskilled(National); got != 1 {
			t.Errorf("one completion at edih-a: %d upskilled, want 1", got)
		}
		if _, _, err := s.Complete(ctx, hubB, b.ID, "", ""); err != nil {
			t.Fatal(err)
		}
		for scope, want := range map[string]int64{National: 1, "edih-a": 1, "edih-b": 1} {
			if got := upskilled(scope); got != want {
				t.Errorf("%s: %d upskilled, want %d (one person, two hubs)", scope, got, want)
			}
		}
		k, err := s.KPIs(ctx, National)
		if err != nil {
			t.Fatal(err)
		}
		if k.Academy.Completions != 2 || k.Academy.Learners != 1 || k.Academy.Courses != 2 {
			t.Errorf("academy figures %+v", k.Academy)
		}
		csv, _ := k.CSV()
		var trail strings.Builder
		rows, err := db.QueryContext(ctx, `SELECT action, detail FROM audit`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, d string
			if err := rows.Scan(&a, &d); err != nil {
				t.Fatal(err)
			}
			trail.WriteString(a + " " + d + "\n")
		}
		rows.Close()
		for what, text := range map[string]string{"the KPIs' CSV": string(csv), "the audit log": trail.String()} {
			if strings.Contains(strings.ToLower(text), "vries") {
				t.Errorf("%s holds the learner's name or address:\n%s", what, text)
			}
		}
		if !strings.Contains(trail.String(), "academy.completed") {
			t.Errorf("audit log lacks the completion:\n%s", trail.String())
		}
		// The passport holds both hubs' completions with their credentials.
		pp, err := s.PassportOf(ctx, "JAN.DE.VRIES@example.nl")
		if err != nil {
			t.Fatal(err)
		}
		if len(pp.Completions) != 2 || pp.Hours != 8 || pp.Learner != a.Learner {
			t.Fatalf("passport %+v", pp)
		}
		other, err := s.PassportOf(ctx, "someone@else.nl")
		if err != nil || len(other.Completions) != 0 {
			t.Errorf("a stranger's passport: %+v, %v", other, err)
		}
		// Erased at edih-a: edih-b's record still counts the person, once.
		if _, err := s.EraseLearner(ctx, adminB, "lrn_unknown", ""); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("erasing a learner edih-b never enrolled: %v", err)
		}
		if n, err := s.EraseLearner(ctx, adminA, a.Learner, ""); err != nil || n != 1 {
			t.Fatalf("erase at edih-a: %d, %v", n, err)
		}
		if got := upskilled("edih-a"); got != 8 {
			t.Errorf("edih-a after the erasure: %d upskilled, want its service record's 8 again", got)
		}
		if got := upskilled("edih-b"); got != 1 {
			t.Errorf("edih-b after edih-a's erasure: %d, want 1", got)
		}
		if pp, _ := s.PassportOf(ctx, "jan.de.vries@example.nl"); len(pp.Completions) != 1 || pp.Completions[0].Course.Hub != "edih-b" {
			t.Errorf("passport after edih-a's erasure: %+v", pp)
		}
	})
}

// TestCredentials: a completion's credential verifies with its hub's
// published key alone; changed, or checked against another hub's key, it
// fails; it names the learner only by a salted hash.
func TestCredentials(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := t.Context()
		w := newService(t, db, nil)
		s := w.s
		if _, err := s.SetCourse(ctx, adminA, course("sensors", "lab-a"), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetCourse(ctx, adminB, course("sensors-b", "lab-b"), ""); err != nil {
			t.Fatal(err)
		}
		en, err := s.Enrol(ctx, hubA, "eva@bakker.example", "Eva Bakker", "sensors", "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Credential(ctx, "edih-a", en.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("credential before completion: %v, want not found", err)
		}
		w.clock = w.clock.AddDate(0, 1, 0)
		_, cred, err := s.Complete(ctx, hubA, en.ID, "2026-07-01", "")
		if err != nil {
			t.Fatal(err)
		}
		enB, _ := s.Enrol(ctx, hubB, "piet@example.nl", "Piet", "sensors-b", "", "")
		if _, _, err := s.Complete(ctx, hubB, enB.ID, "", ""); err != nil {
			t.Fatal(err)
		}
		keysA, _ := s.Keys(ctx, "edih-a")
		keysB, _ := s.Keys(ctx, "edih-b")
		if len(keysA.Keys) != 1 || len(keysB.Keys) != 1 || keysA.Keys[0].Kid == keysB.Keys[0].Kid {
			t.Fatalf("keys %+v %+v", keysA, keysB)
		}
		v, err := Verify([]byte(cred), keysA)
		if err != nil {
			t.Fatalf("valid credential: %v", err)
		}
		subject := v.Credential["credentialSubject"].(map[string]any)
		if v.Name != "Sensors on old machines" || v.IssuerName != "EDIH A" || v.ValidFrom != "2026-07-01T12:00:00Z" || subject["achievement"] == nil {
			t.Errorf("verified %+v", v)
		}
		if strings.Contains(cred, "eva") || strings.Contains(string(mustB64(t, strings.Split(cred, ".")[1])), "eva") {
			t.Error("the credential holds the address in the clear")
		}
		if again, _ := s.Credential(ctx, "edih-a", en.ID); again != cred {
			t.Error("a credential changed once issued")
		}
		if _, err := Verify([]byte(cred), keysB); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("against edih-b's key: %v, want unknown key", err)
		}
		// edih-b's key under edih-a's kid: the signature fails.
		forged := JWKS{Keys: []JWK{{Kty: "OKP", Crv: "Ed25519", X: keysB.Keys[0].X, Kid: keysA.Keys[0].Kid}}}
		if _, err := Verify([]byte(cred), forged); err == nil {
			t.Error("verified against another hub's key")
		}
		parts := strings.Split(cred, ".")
		body := strings.Replace(string(mustB64(t, parts[1])), "Sensors on old machines", "Rocket science for experts", 1)
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(body)) + "." + parts[2]
		if _, err := Verify([]byte(tampered), keysA); !errors.Is(err, ErrBadSignature) {
			t.Errorf("tampered: %v, want bad signature", err)
		}
		for _, junk := range []string{"", "a.b", "x.y.z", parts[0] + "." + parts[1] + ".AAAA"} {
			if _, err := Verify([]byte(junk), keysA); err == nil {
				t.Errorf("junk %q verified", junk)
			}
		}
	})
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzVerify: no input makes Verify panic or accept it without the key.
func FuzzVerify(f *testing.F) {
	f.Add("eyJhbGciOiJFZERTQSIsInR5cCI6InZjK2p3dCJ9.e30.AAAA")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := Verify([]byte(s), JWKS{}); err == nil {
			t.Fatal("verified without keys")
		}
	})
}

// BenchmarkAcademyFigures counts the academy's KPI figures over 300,000
// enrolments of 200,000 people at five hubs, a fifth completed.
func BenchmarkAcademyFigures(b *testing.B) {
	ctx := b.Context()
	w := newService(b, metatest.SQLite(b), nil)
	s := w.s
	hubs := []api.Principal{adminA, adminB}
	for _, p := range hubs {
		if _, err := s.SetCourse(ctx, p, course("c-"+p.Org, p.Org), ""); err != nil {
			b.Fatal(err)
		}
	}
	rows := map[string][]Completion{}
	for i := range 300000 {
		p := hubs[i%2]
		r := Completion{Email: fmt.Sprintf("p%06d@x.example", i%200000), Name: "P", Course: "c-" + p.Org, Enrolled: w.clock.AddDate(0, -2, 0)}
		if i%5 == 0 {
			r.Completed = w.clock.AddDate(0, -1, 0)
		}
		rows[p.Org] = append(rows[p.Org], r)
	}
	for _, p := range hubs {
		if _, err := s.Import(ctx, p, rows[p.Org], ""); err != nil {
			b.Fatal(err)
		}
	}
	for _, scope := range []string{"", "edih-a"} {
		b.Run("scope="+scope, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.academyFigures(ctx, scope); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCredential signs and verifies a course's OpenBadgeCredential
// as vc+jwt (EdDSA), and reports its size.
func BenchmarkCredential(b *testing.B) {
	pub, key, _ := ed25519.GenerateKey(nil)
	jwk := jwkOf(pub)
	s := &Service{}
	vc := s.badge("edih-a", "EDIH A", "enr_0123456789abcdef", "eva@bakker.example", course("sensors", "lab-a"), time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	cred, err := Sign(key, jwk.Kid, vc)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := Sign(key, jwk.Kid, vc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := Verify([]byte(cred), JWKS{Keys: []JWK{jwk}}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(cred)), "bytes")
	})
}
