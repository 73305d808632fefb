package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/pipeline"

	_ "github.com/molen-io/molen/internal/operator" // registers the operators
	_ "github.com/molen-io/molen/internal/service"  // registers the service stage
)

func newPipeline(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Develop edge pipelines: test them offline on recorded points",
		Args:  cobra.NoArgs,
	}
	var config, input string
	var explain bool
	test := &cobra.Command{
		Use:   "test --config P.yaml --input points.jsonl",
		Short: "Run a pipeline on recorded points and print its output",
		Long: `Run the pipelines of a specification offline on recorded points and write
their output points and events to stdout as JSON lines, deterministically:
time is the points' event time, and at the end of input every window closes.

Input, one point per line ('-' reads stdin):

  {"series":"acme/hall1/line1/press/temp","ts":1700000000000,"value":21.5,"q":"good"}

ts is unix milliseconds; value a number, true/false or a string; q is
optional (good, uncertain or bad). Output points have the same form, with
"to":"local" for pipelines whose output is local; events are lines like
{"event":"downtime","asset":…,"start":…,"end":…,"attrs":{…}}.

--explain prints, to stderr, per pipeline and stage the points in and out,
events and skipped points by reason. Warnings about the specification (such
as series that would reach the hub in no form) go to stderr as well. See
docs/pipelines.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := pipeline.Load(config)
			if err != nil {
				return err
			}
			for _, w := range def.Warnings() {
				fmt.Fprintln(g.stderr, "warning:", w)
			}
			_, err = replay(g, def, input, explain)
			return err
		},
	}
	f := test.Flags()
	f.StringVar(&config, "config", "", "pipeline specification (YAML)")
	f.StringVar(&input, "input", "-", "recorded points (JSON lines); - for stdin")
	f.BoolVar(&explain, "explain", false, "print per-stage points in and out to stderr")
	_ = test.MarkFlagRequired("config")
	cmd.AddCommand(test)
	return cmd
}

// replay runs def on the recorded points in input ("-": stdin), writing
// the results to stdout and, with explain, the statistics to stderr.
func replay(g *globals, def *pipeline.Definition, input string, explain bool) (pipeline.Stats, error) {
	in := os.Stdin
	if input != "-" {
		f, err := os.Open(input)
		if err != nil {
			return pipeline.Stats{}, fmt.Errorf("open input: %w", err)
		}
		defer f.Close()
		in = f
	}
	stats, err := pipeline.Replay(def, in, g.stdout)
	if explain {
		if werr := pipeline.WriteExplain(g.stderr, stats); werr != nil && err == nil {
			err = werr
		}
	}
	return stats, err
}
