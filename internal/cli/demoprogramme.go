//go:build !edgeonly

package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/hub"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/secret"
	"github.com/molen-io/molen/internal/store"
	"github.com/molen-io/molen/internal/uns"
)

// The demo's programme: a platform with two regional hubs, a fieldlab,
// three companies (the simulated factory is one: the hub's default
// organisation), a service provider, and people of every role. Each
// person's password is in <data>/hub/demo-people.txt (mode 0600); the
// demo's admin gets a one-time sign-in link at every start.

// DemoPeopleFile is the file, in the hub's data directory, with the demo
// people's passwords.
const DemoPeopleFile = "demo-people.txt"

// DemoAdmin is the demo's admin: platform admin and owner of the
// simulated factory.
const DemoAdmin = "admin@molen.demo"

type demoOrg struct {
	id, name string
	kind     auth.OrgKind
	parent   string
}

var demoOrgs = []demoOrg{
	{"edih-noord", "EDIH Noord — Smart Industry Hub", auth.Hub, auth.PlatformOrg},
	{"edih-zuid", "EDIH Zuid — Brainport Digital Hub", auth.Hub, auth.PlatformOrg},
	{"fieldlab-zwolle", "Fieldlab Smart Maintenance Zwolle", auth.Fieldlab, "edih-noord"},
	{"van-dijk-kunststof", "Van Dijk Kunststoffen B.V.", auth.Company, "edih-noord"},
	{"bakker-metaal", "Bakker Metaalbewerking B.V.", auth.Company, "edih-zuid"},
	{"dataworks", "DataWorks Industrial Analytics", auth.Provider, auth.PlatformOrg},
}

// demoFactoryName is the simulated factory's name (the default
// organisation's).
const demoFactoryName = "Molenaar Precisie B.V."

// demoEngineer is the demo factory's engineer, who explained the
// downtimes of the demo's history.
const demoEngineer = "daan.visser@molenaar.demo"

type demoPerson struct {
	email, name string
	roles       []demoRole
}

type demoRole struct {
	org  string
	role api.Role
}

var demoPeople = []demoPerson{
	{DemoAdmin, "Pat Programma", []demoRole{{auth.PlatformOrg, api.RolePlatformAdmin}, {hub.DefaultOrg, api.RoleOwner}}},
	{"eva.bakker@molenaar.demo", "Eva Bakker", []demoRole{{hub.DefaultOrg, api.RoleAdmin}}},
	{demoEngineer, "Daan Visser", []demoRole{{hub.DefaultOrg, api.RoleEngineer}}},
	{"lotte.meijer@molenaar.demo", "Lotte Meijer", []demoRole{{hub.DefaultOrg, api.RoleViewer}}},
	{"anouk.devries@edih-noord.demo", "Anouk de Vries", []demoRole{{"edih-noord", api.RoleOwner}}},
	{"ruben.smit@edih-noord.demo", "Ruben Smit", []demoRole{{"edih-noord", api.RoleAdvisor}}},
	{"sanne.jansen@edih-zuid.demo", "Sanne Jansen", []demoRole{{"edih-zuid", api.RoleOwner}}},
	{"joost.mulder@fieldlab-zwolle.demo", "Joost Mulder", []demoRole{{"fieldlab-zwolle", api.RoleAdmin}}},
	{"bram@vandijk.demo", "Bram van Dijk", []demoRole{{"van-dijk-kunststof", api.RoleOwner}}},
	{"femke@bakkermetaal.demo", "Femke Bakker", []demoRole{{"bakker-metaal", api.RoleOwner}}},
	{"tim.degroot@dataworks.demo", "Tim de Groot", []demoRole{{"dataworks", api.RolePublisher}}},
}

// seedProgramme makes the demo's programme on a fresh hub (once: a
// restarted demo finds it) and returns a one-time sign-in link for the
// demo's admin.
func seedProgramme(ctx context.Context, h *hub.Hub, dataDir string, national bool) (string, error) {
	a := h.Auth()
	peopleFile := filepath.Join(dataDir, DemoPeopleFile)
	if _, err := a.Org(ctx, demoOrgs[0].id); errors.Is(err, meta.ErrNotFound) {
		if err := seed(ctx, h, peopleFile, national); err != nil {
			return "", fmt.Errorf("demo programme: %w", err)
		}
	} else if err != nil {
		return "", err
	}
	u, err := a.UserByEmail(ctx, DemoAdmin)
	if err != nil {
		return "", fmt.Errorf("demo admin: %w", err)
	}
	sec, err := a.LoginLink(ctx, u.ID, 24*time.Hour)
	if err != nil {
		return "", err
	}
	return a.URL("login", sec), nil
}

func seed(ctx context.Context, h *hub.Hub, peopleFile string, national bool) error {
	a := h.Auth()
	for _, o := range demoOrgs {
		if err := a.CreateOrg(ctx, auth.Org{ID: o.id, Name: o.name, Kind: o.kind, Parent: o.parent, Created: time.Now()}); err != nil {
			return err
		}
	}
	if err := a.UpdateOrg(ctx, hub.DefaultOrg, demoFactoryName, "edih-noord"); err != nil {
		return err
	}
	f, err := os.OpenFile(peopleFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tabwriter.NewWriter(f, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "# The demo's people and their passwords. Sign in at the hub's /auth/… pages or POST /api/v1/auth/login.")
	fmt.Fprintln(tw, "email\tname\troles\tpassword")
	for _, p := range demoPeople {
		pw := secret.New("")[:20]
		u, err := a.CreateUser(ctx, p.email, p.name, pw)
		if err != nil {
			return err
		}
		var roles []string
		for _, r := range p.roles {
			if err := a.AddMember(ctx, u.ID, r.org, r.role); err != nil {
				return err
			}
			roles = append(roles, string(r.role)+"@"+r.org)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.email, p.name, strings.Join(roles, ","), pw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The factory shares its KPIs with its hub, and lets the hub's advisor
	// look over its shoulder for three days.
	owner, err := a.UserByEmail(ctx, DemoAdmin)
	if err != nil {
		return err
	}
	p := api.Principal{Org: hub.DefaultOrg, OrgKind: string(auth.Company), Role: api.RoleOwner, User: owner.ID, Name: owner.ID}
	if _, err := a.Grant(ctx, p, "edih-noord", api.DataKPI, "", time.Now().Add(365*24*time.Hour), ""); err != nil {
		return err
	}
	if _, err := a.Delegate(ctx, p, "ruben.smit@edih-noord.demo", api.RoleViewer, 72*time.Hour, ""); err != nil {
		return err
	}
	if err := seedAssessments(ctx, h, time.Now()); err != nil {
		return err
	}
	if err := seedNetwork(ctx, h, national, time.Now()); err != nil {
		return err
	}
	return seedCompanyData(ctx, h.Store())
}

// seedCompanyData gives the two other companies a day of their own
// figures, so that each organisation shows its own data.
func seedCompanyData(ctx context.Context, st store.Store) error {
	end := time.Now().Truncate(time.Minute)
	for _, c := range []struct {
		org, series string
		base, amp   float64
	}{
		{"van-dijk-kunststof", "vandijk-emmen/hal-1/extrusie-2/melt_temp_c", 215, 6},
		{"bakker-metaal", "bakker-eindhoven/werkplaats/laser-1/power_kw", 18, 4},
	} {
		var pts []uns.Point
		for i := 0; i < 24*12; i++ {
			ts := end.Add(-time.Duration(24*12-i) * 5 * time.Minute)
			v := c.base + c.amp*math.Sin(float64(i)/12*math.Pi/2)
			pts = append(pts, uns.Point{Series: c.series, TS: ts.UnixNano(), Value: uns.Float(math.Round(v*10) / 10)})
		}
		if _, err := st.Ingest(ctx, c.org, store.Source{Edge: "demo-seed", Stream: c.org}, []store.Record{{Seq: 1, Points: pts}}); err != nil {
			return fmt.Errorf("demo data of %s: %w", c.org, err)
		}
	}
	return nil
}

// printPeople lists the demo's people for the start message.
func printPeople(w *tabwriter.Writer) {
	for _, p := range demoPeople {
		var roles []string
		for _, r := range p.roles {
			roles = append(roles, string(r.role)+" @ "+r.org)
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\n", p.name, p.email, strings.Join(roles, ", "))
	}
	w.Flush()
}
