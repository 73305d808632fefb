package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/edge"
)

// Main runs molen with args and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var exit edge.ExitError
		if errors.As(err, &exit) {
			return exit.Code // the edge's own status, for its launcher or service manager
		}
		fmt.Fprintln(stderr, "molen:", err)
		return 1
	}
	return 0
}

// globals are the flags every subcommand has.
type globals struct {
	logLevel  string
	logFormat string
	stdout    io.Writer
	stderr    io.Writer
}

func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(newUniqueKeys(slog.NewTextHandler(g.stderr, opts))), nil
	case "json":
		return slog.New(newUniqueKeys(slog.NewJSONHandler(g.stderr, opts))), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", g.logFormat)
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "molen",
		Short: "molen: connect machines, process at the edge, store centrally",
		Long: `molen is an open cloud-to-edge data platform for manufacturing SMEs.

A molen edge runs next to the machines: devices publish to its MQTT listener,
it validates and buffers their data durably and forwards it to a molen hub,
which stores it and serves an API and a web UI.` + platformHint,
		Version:       Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("molen {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.AddCommand(newEdge(g), newPipeline(g), newService(g), newOPCUA(g), newVersion(g), newRelease(g))
	root.AddCommand(platform(g)...)
	return root
}

// version is molen's version as a release build stamps it:
//
//	go build -ldflags "-X github.com/molen-io/molen/internal/cli.version=v1.2.3" ./cmd/molen
//
// Left empty, Version falls back to what the Go toolchain recorded.
var version string

// Version returns molen's version: the stamped one; else the module version
// the toolchain recorded (a tagged `go install …@v1.2.3`, or a
// pseudo-version from the repository's tags); else "devel-" and the VCS
// revision; else "devel" (a build with -buildvcs=false and no stamp).
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev != "" {
		return "devel-" + rev[:min(12, len(rev))] + dirty
	}
	return "devel"
}

func newVersion(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print molen's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			bi, _ := debug.ReadBuildInfo()
			goVersion := ""
			if bi != nil {
				goVersion = bi.GoVersion
			}
			fmt.Fprintf(g.stdout, "molen %s %s\n", Version(), strings.TrimSpace(goVersion))
			return nil
		},
	}
}
