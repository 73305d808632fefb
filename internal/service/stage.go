package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"

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
	st := &Stage{Install: in}
	// The pipeline drops a stage it no longer runs (a reload) without
	// closing it: close the module's runtime and save the state once the
	// stage is garbage.
	runtime.AddCleanup(st, func(in *Install) { in.Close(context.Background()) }, in)
	return st, nil
}

// Report describes the stage for the pipeline's statistics
// (StageStats.Detail): the service and its install's statistics.
func (s *Stage) Report() any {
	md := s.pkg.Manifest.Metadata
	return Report{ID: md.ID, Version: md.Version, Stats: s.Stats()}
}

// Report is a service stage's StageStats.Detail.
type Report struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Stats   Stats  `json:"stats"`
}

// Process gives the batch to the module.
func (s *Stage) Process(in []uns.Point, out *pipeline.Output) {
	s.Install.Process(context.Background(), in, out)
}

// Tick gives the module a tick.
func (s *Stage) Tick(now int64, out *pipeline.Output) {
	s.Install.Tick(context.Background(), now, out)
}
