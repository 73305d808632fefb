package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

func init() {
	pipeline.Register(pipeline.Spec{
		Name:  "service",
		Doc:   "run a service package's WebAssembly module (molen-svc/1)",
		New:   func() pipeline.Config { return &StageConfig{} },
		Build: func(c pipeline.Config) (pipeline.Operator, error) { return NewStage(*c.(*StageConfig)) },
	})
}

// StageConfig configures a pipeline stage that runs a service, as in
//
//	stages:
//	  - service: {package: /var/lib/molen/services/spc, params: {baseline: 50}, state: spc.state}
type StageConfig struct {
	// Package is the package's directory (holding margo.yaml).
	Package string `yaml:"package"`
	// Params are the install's parameters, checked against the
	// manifest's schema.
	Params map[string]any `yaml:"params"`
	// State is the file that keeps the install's state across restarts
	// of the edge ("": in memory).
	State string `yaml:"state"`
}

// Validate loads the package and checks the parameters.
func (c *StageConfig) Validate() error {
	if c.Package == "" {
		return errors.New("package: missing: the directory of a service package")
	}
	pkg, err := LoadPackage(c.Package)
	if err != nil {
		return fmt.Errorf("package: %w", err)
	}
	if _, err := pkg.Params(c.Params); err != nil {
		return fmt.Errorf("params: %w", err)
	}
	return nil
}

// Stage is the pipeline operator of a service: an Install whose clock is
// the newest time it has seen (points' times and ticks), so that a replay
// is deterministic and the edge, which ticks with its clock each second,
// gives the module the edge's time.
type Stage struct {
	*Install
	seq uint64
}

// NewStage opens the package's module for a pipeline.
func NewStage(c StageConfig) (*Stage, error) {
	pkg, err := LoadPackage(c.Package)
	if err != nil {
		return nil, err
	}
	params, err := pkg.Params(c.Params)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	in, err := Open(context.Background(), pkg, Options{Params: params, StateFile: c.State, EventClock: true, Log: slog.Default()})
	if err != nil {
		return nil, err
	}
	st := &Stage{Install: in, seq: stageSeq.Add(1)}
	stages.Store(st, struct{}{})
	return st, nil
}

// stages are the service stages this process built, for RunningStages;
// stageSeq numbers them.
var (
	stages   sync.Map // *Stage → struct{}
	stageSeq atomic.Uint64
)

// LastStage numbers the service stages built so far: RunningStages(n)
// lists those built after LastStage returned n.
func LastStage() uint64 { return stageSeq.Load() }

// Running describes a service stage of this process.
type Running struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Stats   Stats  `json:"stats"`
}

// RunningStages returns the statistics of the service stages this
// process built after LastStage returned after, by service id.
func RunningStages(after uint64) []Running {
	var out []Running
	stages.Range(func(k, _ any) bool {
		st := k.(*Stage)
		if st.seq <= after {
			return true
		}
		md := st.pkg.Manifest.Metadata
		out = append(out, Running{ID: md.ID, Version: md.Version, Stats: st.Stats()})
		return true
	})
	slices.SortFunc(out, func(a, b Running) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Process gives the batch to the module.
func (s *Stage) Process(in []uns.Point, out *pipeline.Output) {
	s.Install.Process(context.Background(), in, out)
}

// Tick gives the module a tick.
func (s *Stage) Tick(now int64, out *pipeline.Output) {
	s.Install.Tick(context.Background(), now, out)
}
