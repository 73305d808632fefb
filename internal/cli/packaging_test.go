//go:build !edgeonly

package cli

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// TestPackagedSettings: the settings files the .deb installs are read by
// the commands their units run (no unknown key, the data in the unit's
// state directory), and so are the commands and environments of
// deploy/compose.yaml (with its ${…} filled in): what the packages ship
// cannot drift from the flags.
func TestPackagedSettings(t *testing.T) {
	printConfig := func(t *testing.T, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := Main(append(args, "--print-config"), &out, &errOut); code != 0 {
			t.Fatalf("molen %s --print-config: exit %d: %s", strings.Join(args, " "), code, errOut.String())
		}
		return out.String()
	}
	for _, c := range []struct{ cmd, file, want string }{
		{"hub", "../../packaging/etc/hub.yaml", "data: /var/lib/molen/hub  # file"},
		{"edge", "../../packaging/etc/edge.yaml", "data: /var/lib/molen/edge  # file"},
	} {
		if got := printConfig(t, c.cmd, "--config", c.file); !strings.Contains(got, c.want) {
			t.Errorf("%s: lacks %q:\n%s", c.file, c.want, got)
		}
		unit, err := os.ReadFile("../../packaging/systemd/molen-" + c.cmd + ".service")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(unit), "ExecStart=/usr/bin/molen "+c.cmd+" --config /etc/molen/"+c.cmd+".yaml\n") ||
			!strings.Contains(string(unit), "StateDirectory=molen/"+c.cmd+"\n") {
			t.Errorf("molen-%s.service does not run `molen %s --config /etc/molen/%s.yaml` with its state in /var/lib/molen/%s", c.cmd, c.cmd, c.cmd, c.cmd)
		}
	}

	raw, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Compose's interpolation, as a user's values would fill it.
	vars := map[string]string{"POSTGRES_PASSWORD": "pw", "MOLEN_VERSION": "v1.4.0", "MOLEN_ENROLL_TOKEN": "mle_x"}
	filled := regexp.MustCompile(`\$\{([A-Z_]+)(?::[-?][^}]*)?\}`).ReplaceAllStringFunc(string(raw), func(m string) string {
		name := regexp.MustCompile(`[A-Z_]+`).FindString(m)
		if v, ok := vars[name]; ok {
			return v
		}
		if _, def, ok := strings.Cut(m, ":-"); ok {
			return strings.TrimSuffix(def, "}")
		}
		return ""
	})
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(filled), &compose); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"hub": "store: postgres://molen:********@postgres:5432/molen?sslmode=disable  # env", "edge": "hub: http://hub:8080  # env"} {
		s, ok := compose.Services[name]
		if !ok || s.Image != "molen:v1.4.0" {
			t.Fatalf("compose service %s: %+v", name, s)
		}
		t.Run(name, func(t *testing.T) {
			for k, v := range s.Environment {
				t.Setenv(k, v)
			}
			if got := printConfig(t, s.Command...); !strings.Contains(got, want) {
				t.Errorf("lacks %q:\n%s", want, got)
			}
		})
	}
}
