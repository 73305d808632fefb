package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestConfigPrecedence: a flag on the command line wins over its
// environment variable, which wins over the file, which wins over the
// default; lists come from YAML lists; a key that is no flag, a value of
// the wrong type and a missing file are errors naming them.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "listen: 0.0.0.0:9000\ndata: /var/lib/molen\nbuffer-max-age: 48h\ntopics: [a/#, b/+]\nverbose: true\n")
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		file    string
		want    map[string]string // flag → value
		sources map[string]string
		err     string
	}{
		{name: "defaults", want: map[string]string{"listen": "127.0.0.1:8080", "data": "d"},
			sources: map[string]string{"listen": "default", "data": "default"}},
		{name: "file", file: good, want: map[string]string{"listen": "0.0.0.0:9000", "data": "/var/lib/molen", "buffer-max-age": "48h0m0s", "topics": "[a/#,b/+]", "verbose": "true"},
			sources: map[string]string{"listen": "file", "buffer-max-age": "file"}},
		{name: "env over file", file: good, env: map[string]string{"MOLEN_LISTEN": "10.0.0.1:80", "MOLEN_BUFFER_MAX_AGE": "1h"},
			want: map[string]string{"listen": "10.0.0.1:80", "buffer-max-age": "1h0m0s", "data": "/var/lib/molen"}, sources: map[string]string{"listen": "env", "data": "file"}},
		{name: "flag over env", file: good, args: []string{"--listen", "127.0.0.1:1"}, env: map[string]string{"MOLEN_LISTEN": "10.0.0.1:80"},
			want: map[string]string{"listen": "127.0.0.1:1"}, sources: map[string]string{"listen": "flag"}},
		{name: "unknown key", file: write("typo.yaml", "listen: x\nbufer-max-age: 1h\n"), err: `unknown key "bufer-max-age"`},
		{name: "nested", file: write("nested.yaml", "listen: {host: x}\n"), err: "listen: want a value"},
		{name: "bad value", file: write("bad.yaml", "buffer-max-age: soon\n"), err: "buffer-max-age"},
		{name: "bad env", env: map[string]string{"MOLEN_VERBOSE": "maybe"}, err: "$MOLEN_VERBOSE"},
		{name: "not a mapping", file: write("list.yaml", "- listen\n"), err: "want a mapping"},
		{name: "no file", file: filepath.Join(dir, "missing.yaml"), err: "--config"},
		{name: "config is no key", file: write("self.yaml", "config: other.yaml\n"), err: `unknown key "config"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
			fs.String("listen", "127.0.0.1:8080", "")
			fs.String("data", "d", "")
			fs.Duration("buffer-max-age", 0, "")
			fs.StringSlice("topics", nil, "")
			fs.Bool("verbose", false, "")
			fs.String("config", "", "")
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			lookup := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
			sources, err := applyConfig(fs, c.file, lookup)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.want {
				if got := fs.Lookup(k).Value.String(); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for k, v := range c.sources {
				if sources[k] != v {
					t.Errorf("%s from %q, want %q", k, sources[k], v)
				}
			}
		})
	}
}

// TestPrintConfig: molen edge --print-config prints what the file, the
// environment and the flags make of the settings, masking secrets, in a
// form --config reads back; the edge does not start.
func TestPrintConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "edge.yaml")
	if err := os.WriteFile(file, []byte("hub: https://hub.example.org\nenroll-token: mle_secret_token\nbuffer-max-age: 72h\nhub-pin: [sha256/AAAA, sha256/BBBB]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MOLEN_MQTT_LISTEN", "0.0.0.0:1884")
	var out, errOut bytes.Buffer
	if code := Main([]string{"edge", "--config", file, "--data", dir, "--print-config"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"hub: https://hub.example.org  # file", "enroll-token: '********'  # file", "buffer-max-age: 72h0m0s  # file",
		"mqtt-listen: 0.0.0.0:1884  # env", "data: " + dir + "  # flag", "hub-pin: [sha256/AAAA, sha256/BBBB]  # file",
		"status-listen: 127.0.0.1:", "log-level: info  # default",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("--print-config lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "mle_secret_token") {
		t.Errorf("--print-config shows the enrollment token:\n%s", got)
	}
	// What it printed is a config file that gives the same.
	again := filepath.Join(dir, "again.yaml")
	printed := strings.ReplaceAll(got, "'********'", "mle_secret_token")
	if err := os.WriteFile(again, []byte(printed), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := Main([]string{"edge", "--config", again, "--print-config"}, &out, &errOut); code != 0 {
		t.Fatalf("reading the printed config back: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "buffer-max-age: 72h0m0s  # file") {
		t.Errorf("printed config read back:\n%s", out.String())
	}
	// A typo in the file stops the edge before it starts.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("hub: x\nmqtt_listen: 0.0.0.0:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	if code := Main([]string{"edge", "--config", bad}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), `unknown key "mqtt_listen"`) {
		t.Errorf("a typo: exit %d: %s", code, errOut.String())
	}
}
