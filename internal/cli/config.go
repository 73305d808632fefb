package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// EnvPrefix starts the environment variable of each flag: --buffer-max-bytes
// is MOLEN_BUFFER_MAX_BYTES.
const EnvPrefix = "MOLEN_"

// envName is the environment variable of the flag name.
func envName(flag string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// configHelp ends the help of the commands that take a configuration.
const configHelp = `Configuration: every flag can also come from the environment, as MOLEN_ and the
flag's name in capitals with _ for - (--buffer-max-bytes: MOLEN_BUFFER_MAX_BYTES),
or from a YAML file given with --config (or $MOLEN_CONFIG), keyed by flag name
(buffer-max-bytes: 1073741824; lists as YAML lists). A flag on the command line
wins over the environment, which wins over the file, which wins over the
default. A key of the file that is no flag is an error naming it.
--print-config prints the effective configuration, secrets masked, with where
each value comes from, and exits.`

// notConfig are flags that only the command line sets.
var notConfig = []string{"config", "print-config", "help"}

// withConfig gives cmd a --config file (YAML: flag names as keys) and
// MOLEN_* environment variables for every flag, with one precedence: a flag
// given on the command line, then its environment variable, then the
// file, then the default; and --print-config, which prints the effective
// configuration (secrets masked) instead of running. It runs before cmd's
// own PreRunE.
func withConfig(cmd *cobra.Command, g *globals) {
	var file string
	var print bool
	f := cmd.Flags()
	f.StringVar(&file, "config", os.Getenv(EnvPrefix+"CONFIG"), "YAML file of settings, keyed by flag name (buffer-max-bytes: 1073741824); flags and MOLEN_* environment variables override it (also $MOLEN_CONFIG)")
	f.BoolVar(&print, "print-config", false, "print the effective configuration (secrets masked) and where each value comes from, and exit")
	pre, run := cmd.PreRunE, cmd.RunE
	sources := map[string]string{}
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		var err error
		if sources, err = applyConfig(cmd.Flags(), file, os.LookupEnv); err != nil {
			return err
		}
		if pre != nil {
			return pre(cmd, args)
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if print {
			return printConfig(g.stdout, cmd.Flags(), sources)
		}
		return run(cmd, args)
	}
}

// applyConfig sets each flag of fs not given on the command line from its
// environment variable, else from the file's key of its name. It answers
// where each flag's value came from: flag, env, file or default. A key of
// the file that names no flag is an error naming it.
func applyConfig(fs *pflag.FlagSet, file string, lookup func(string) (string, bool)) (map[string]string, error) {
	values := map[string]any{}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&values); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config file %s: %w (want a mapping of flag names to values)", file, err)
		}
		for k := range values {
			if fs.Lookup(k) == nil || slices.Contains(notConfig, k) {
				return nil, fmt.Errorf("config file %s: unknown key %q (keys are the command's flag names, see --help)", file, k)
			}
		}
	}
	sources := map[string]string{}
	var errs []error
	fs.VisitAll(func(fl *pflag.Flag) {
		switch {
		case slices.Contains(notConfig, fl.Name):
			return
		case fl.Changed:
			sources[fl.Name] = "flag"
			return
		}
		if v, ok := lookup(envName(fl.Name)); ok {
			if err := fl.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("$%s: %q: %w", envName(fl.Name), v, err))
			}
			sources[fl.Name] = "env"
			return
		}
		v, ok := values[fl.Name]
		if !ok {
			sources[fl.Name] = "default"
			return
		}
		sources[fl.Name] = "file"
		items := []any{v}
		if list, isList := v.([]any); isList {
			items = list
			if len(list) == 0 {
				if sv, ok := fl.Value.(pflag.SliceValue); ok {
					_ = sv.Replace(nil)
				}
			}
		}
		for _, it := range items {
			if _, nested := it.(map[string]any); nested || it == nil {
				errs = append(errs, fmt.Errorf("config file %s: %s: want a value or a list of values", file, fl.Name))
				return
			}
			if err := fl.Value.Set(fmt.Sprint(it)); err != nil {
				errs = append(errs, fmt.Errorf("config file %s: %s: %v: %w", file, fl.Name, it, err))
				return
			}
		}
	})
	return sources, errors.Join(errs...)
}

// secretFlag reports whether a flag holds a secret that --print-config
// masks.
func secretFlag(name string) bool {
	for _, w := range []string{"password", "secret", "token"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// printConfig writes the effective configuration as YAML that --config
// reads back, each value's source as a comment; secrets (and the password
// of a URL) are masked.
func printConfig(w io.Writer, fs *pflag.FlagSet, sources map[string]string) error {
	var b strings.Builder
	b.WriteString("# effective configuration: flag > environment (MOLEN_*) > --config file > default\n")
	fs.VisitAll(func(fl *pflag.Flag) {
		if slices.Contains(notConfig, fl.Name) {
			return
		}
		scalar := func(s string) string {
			out, _ := yaml.Marshal(s)
			return strings.TrimSuffix(string(out), "\n")
		}
		var v string
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			items := sv.GetSlice()
			for i, it := range items {
				items[i] = scalar(maskURL(it))
			}
			v = "[" + strings.Join(items, ", ") + "]"
		} else {
			s := fl.Value.String()
			if s != "" && secretFlag(fl.Name) {
				s = "********"
			} else {
				s = maskURL(s)
			}
			v = scalar(s)
		}
		fmt.Fprintf(&b, "%s: %s  # %s\n", fl.Name, v, sources[fl.Name])
	})
	_, err := io.WriteString(w, b.String())
	return err
}

// maskURL masks the password of s if s is a URL with one (a PostgreSQL
// or NATS server's address).
func maskURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			return strings.Replace(s, u.User.String()+"@", url.User(u.User.Username()).String()+":********@", 1)
		}
	}
	return s
}
