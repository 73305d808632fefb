package service

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/tetratelabs/wazero/api"

	"github.com/molen-io/molen/internal/atomicfile"
)

// maxMetrics bounds the counters one install may create.
const maxMetrics = 256

// hostModule instantiates the host functions of molen-svc/1 (module
// "molen") for this install. A module can only import those of its
// declared capabilities (checkModule); each checks its pointers, and a
// bad one traps the call, which counts as a failure.
func (in *Install) hostModule(ctx context.Context) error {
	_, err := in.rt.NewHostModuleBuilder("molen").
		NewFunctionBuilder().WithFunc(in.hostLog).Export("log").
		NewFunctionBuilder().WithFunc(in.hostMetric).Export("metric").
		NewFunctionBuilder().WithFunc(in.hostNow).Export("now").
		NewFunctionBuilder().WithFunc(in.hostStateGet).Export("state_get").
		NewFunctionBuilder().WithFunc(in.hostStateSet).Export("state_set").
		Instantiate(ctx)
	return err
}

func read(m api.Module, ptr, n uint32) []byte {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("%w: pointer outside memory", ErrBadResult))
	}
	return b
}

func (in *Install) hostLog(ctx context.Context, m api.Module, level int32, ptr, n uint32) {
	msg := read(m, ptr, min(n, 4096))
	in.log.Log(ctx, slog.Level(level), "service: "+string(msg))
}

func (in *Install) hostMetric(_ context.Context, m api.Module, ptr, n uint32, v float64) {
	name := read(m, ptr, min(n, 128))
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.stats.Metrics == nil {
		in.stats.Metrics = map[string]float64{}
	}
	if _, ok := in.stats.Metrics[string(name)]; ok || len(in.stats.Metrics) < maxMetrics {
		in.stats.Metrics[string(name)] += v
	}
}

func (in *Install) hostNow() int64 {
	if in.opts.EventClock {
		return in.clock
	}
	return in.opts.Now()
}

// hostStateGet copies the value of a key into the module's buffer and
// returns its length (the length without copying when the buffer is too
// small), or -1 when the key is not set.
func (in *Install) hostStateGet(_ context.Context, m api.Module, kptr, kn, vptr, vcap uint32) int32 {
	v, ok := in.state[string(read(m, kptr, kn))]
	if !ok {
		return -1
	}
	if len(v) <= int(vcap) && len(v) > 0 && !m.Memory().Write(vptr, v) {
		panic(fmt.Errorf("%w: pointer outside memory", ErrBadResult))
	}
	return int32(len(v))
}

// hostStateSet sets a key (an empty value deletes it); it returns 0, or 1
// when the install's state would exceed limits.stateBytes.
func (in *Install) hostStateSet(_ context.Context, m api.Module, kptr, kn, vptr, vn uint32) int32 {
	k := string(read(m, kptr, kn))
	old, had := in.state[k]
	size := in.stateSize - len(old)
	if had {
		size -= len(k)
	}
	if vn == 0 {
		delete(in.state, k)
		in.stateSize, in.stateDirty = size, true
		return 0
	}
	if size+len(k)+int(vn) > in.pkg.Limits.StateBytes {
		return 1
	}
	in.state[k] = append([]byte(nil), read(m, vptr, vn)...)
	in.stateSize, in.stateDirty = size+len(k)+int(vn), true
	return 0
}

func (in *Install) loadState() error {
	data, err := os.ReadFile(in.opts.StateFile)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(data, &in.state); err != nil {
		return fmt.Errorf("state %s: %w", in.opts.StateFile, err)
	}
	for k, v := range in.state {
		in.stateSize += len(k) + len(v)
	}
	return nil
}

// saveState writes the state if it changed, whole or not at all.
func (in *Install) saveState() error {
	if !in.stateDirty || in.opts.StateFile == "" {
		return nil
	}
	data, err := json.Marshal(in.state)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(in.opts.StateFile, data, 0o600); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	in.stateDirty = false
	return nil
}
