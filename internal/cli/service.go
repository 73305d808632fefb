package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/service"
)

func newService(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Develop and publish services: WebAssembly modules for the edge's pipeline (molen-svc/1)",
		Long: `Develop a service package: a margo.yaml manifest and a WebAssembly module that runs
in an edge's pipeline under the module ABI molen-svc/1. Start with 'molen service
init', build the module with 'molen service build' and run it on recorded points
with 'molen service test'. To offer it in a hub's marketplace, make a signing
key ('molen service keygen'), sign the package ('molen service sign') and
upload it ('molen service publish'). See docs/services.md.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newServiceInit(g), newServiceBuild(g), newServiceTest(g), newServiceKeygen(g), newServiceSign(g), newServicePublish(g))
	return cmd
}

func newServiceInit(g *globals) *cobra.Command {
	var o service.InitOptions
	c := &cobra.Command{
		Use:   "init DIR",
		Short: "Write a new service package: manifest, Go module, terms and sample points",
		Long: `Write a new service package to DIR: margo.yaml (the manifest), main.go (a Go
module using the SDK github.com/molen-io/molen/sdk/molensvc), TERMS.md, LICENSE,
icon.svg and points.jsonl (sample input). Outside a Go module it writes a go.mod
too, requiring molen at --require, or replacing it with a local checkout (--sdk).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.SDK != "" {
				abs, err := filepath.Abs(o.SDK)
				if err != nil {
					return err
				}
				o.SDK = abs
			}
			files, err := service.Init(args[0], o)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "wrote %s in %s\nnext: molen service build %s && molen service test --package %s --input %s --params '{\"limit\": 70}'\n",
				strings.Join(files, ", "), args[0], args[0], args[0], filepath.Join(args[0], "points.jsonl"))
			return nil
		},
	}
	c.Flags().StringVar(&o.ID, "id", "", "the service's id (default: the directory's name)")
	c.Flags().StringVar(&o.Require, "require", sdkVersion(), "the molen version a new go.mod requires")
	c.Flags().StringVar(&o.SDK, "sdk", "", "a local molen checkout to build against (a replace in go.mod)")
	return c
}

// sdkVersion is the molen module version this binary was built from, for
// a new service's go.mod.
func sdkVersion() string {
	if v := Version(); strings.HasPrefix(v, "v") {
		return v
	}
	return "v0.0.0"
}

func newServiceBuild(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "build [DIR]",
		Short: "Build a package's module (GOOS=wasip1 GOARCH=wasm) and check it against the manifest",
		Long: `Build the Go source of the package in DIR (default .; x-molen.source in margo.yaml)
into its module (x-molen.module) with GOOS=wasip1 GOARCH=wasm go build
-buildmode=c-shared, then check it as an edge would: the exports of molen-svc/1,
and only host functions of the capabilities the manifest declares.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			pkg, err := service.LoadPackage(dir)
			if err != nil {
				return err
			}
			if err := service.Build(cmd.Context(), pkg); err != nil {
				return err
			}
			start := time.Now()
			in, err := service.Open(cmd.Context(), pkg, service.Options{})
			if err != nil {
				return err
			}
			load := time.Since(start)
			in.Close(context.Background())
			st, err := os.Stat(filepath.Join(pkg.Dir, pkg.Molen.Module))
			if err != nil {
				return err
			}
			md := pkg.Manifest.Metadata
			fmt.Fprintf(g.stdout, "built %s: %s %s, %.1f MiB, compiled and checked in %s\n",
				filepath.Join(pkg.Dir, pkg.Molen.Module), md.ID, md.Version, float64(st.Size())/(1<<20), load.Round(time.Millisecond))
			return nil
		},
	}
}

func newServiceTest(g *globals) *cobra.Command {
	var dir, input, params, state string
	var explain, build bool
	c := &cobra.Command{
		Use:   "test --package DIR --input points.jsonl",
		Short: "Run a service package on recorded points and print its output",
		Long: `Run the package's module offline on recorded points, as a one-stage pipeline that
takes the series the manifest reads, and write the output points and events to
stdout as JSON lines, as 'molen pipeline test' does (docs/pipelines.md): time is
the points' event time, and the module's clock is the newest time it has seen.
--params gives the install's parameters as a JSON object, checked against the
manifest's schema. The command fails if any call into the module failed (a
trap, the batch deadline, a limit or a capability broken): the points of such a
batch follow the manifest's onFailure policy, and the failures are listed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pkg, err := service.LoadPackage(dir)
			if err != nil {
				return err
			}
			if build {
				if err := service.Build(cmd.Context(), pkg); err != nil {
					return err
				}
			}
			var p map[string]any
			if err := json.Unmarshal([]byte(params), &p); err != nil {
				return fmt.Errorf("--params: want a JSON object: %w", err)
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			spec, _ := json.Marshal(map[string]any{"pipelines": []any{map[string]any{
				"name":   pkg.Manifest.Metadata.ID,
				"match":  pkg.Molen.Capabilities.Reads,
				"stages": []any{map[string]any{"service": map[string]any{"package": abs, "params": p, "state": state}}},
			}}})
			def, err := pipeline.Parse(spec)
			if err != nil {
				return err
			}
			stats, err := replay(g, def, input, explain)
			if err != nil {
				return err
			}
			for _, ps := range stats.Pipelines {
				for _, st := range ps.Stages {
					r, ok := st.Detail.(service.Report)
					if !ok {
						continue
					}
					s := r.Stats
					if explain {
						fmt.Fprintf(g.stderr, "service %s %s: %d calls, %d points in, %d out, %d events, %d failures, memory %.1f MiB\n",
							r.ID, r.Version, s.Calls, s.In, s.Out, s.Events, s.Failures, s.MemoryMiB)
					}
					if s.Failures > 0 {
						stopped := ""
						if s.Stopped {
							stopped = ", then stopped"
						}
						return fmt.Errorf("service %s: %d calls failed%s (%d points passed on unchanged); last: %s",
							r.ID, s.Failures, stopped, s.PassedOn, s.LastError)
					}
				}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "package", ".", "the service package's directory")
	f.StringVar(&input, "input", "-", "recorded points (JSON lines); - for stdin")
	f.StringVar(&params, "params", "{}", "the install's parameters (a JSON object)")
	f.StringVar(&state, "state", "", "a file for the install's state (default: in memory)")
	f.BoolVar(&explain, "explain", false, "print the stage's points in and out and the module's statistics to stderr")
	f.BoolVar(&build, "build", false, "build the module first (as molen service build)")
	return c
}
