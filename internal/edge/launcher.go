package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultTrial is how long a new version has to confirm (report to the
// hub) before its launcher goes back to the previous one.
const DefaultTrial = 5 * time.Minute

// LaunchOptions configure Supervise.
type LaunchOptions struct {
	DataDir string // the edge's data directory (SoftwareDir in it)
	// Installed is the binary installed on the machine (the launcher's
	// own): it runs while no update was kept, and is never replaced.
	Installed string
	Args      []string      // the edge's arguments
	Trial     time.Duration // 0: DefaultTrial
	Log       *slog.Logger
	Stdout    io.Writer
	Stderr    io.Writer
}

// ExitError is the exit status of an edge that stopped by itself (not
// for an update, not asked to); Supervise returns it so that its caller
// exits with the same status and the service manager restarts it.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("the edge exited with status %d", e.Code) }

// Supervise runs the edge as a child process and carries out software
// updates (docs/adr/0021-edge-software-trial.md): it starts the current
// binary; when the edge stages an update and exits with ExitRestart, it
// starts the new binary on trial, keeps it once it confirms, and goes
// back to the previous binary when it exits or does not confirm within
// the trial time. A trial it finds already started (the launcher was
// killed, the machine lost power) goes back too. It returns when ctx
// ends (the child is stopped with SIGTERM first) or the edge exits by
// itself (ExitError).
func Supervise(ctx context.Context, o LaunchOptions) error {
	if o.Trial <= 0 {
		o.Trial = DefaultTrial
	}
	dir := filepath.Join(o.DataDir, SoftwareDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("software directory: %w", err)
	}
	for {
		st, err := LoadSoftwareState(dir)
		if err != nil {
			return err
		}
		removeStale(dir, st, o.Log)
		bin, trial := st.Current, false
		if st.Trial != nil {
			if st.Attempts > 0 {
				o.Log.Error("the last update was on trial when the edge stopped; going back", "version", st.Trial.Version)
				if err := goBack(dir, st, "version "+st.Trial.Version+" went back: the edge stopped while it was on trial"); err != nil {
					return err
				}
				continue
			}
			st.Attempts++
			if err := saveSoftwareState(dir, st); err != nil {
				return err
			}
			bin, trial = st.Trial, true
		}
		path := o.Installed
		if bin != nil {
			path = filepath.Join(dir, bin.File)
		}
		code, err := run(ctx, o, dir, path, trial)
		switch {
		case err != nil:
			return err
		case ctx.Err() != nil:
			return nil
		case code == ExitRestart:
			continue // an update was staged
		case code != 0:
			return ExitError{Code: code}
		default:
			return nil
		}
	}
}

// run runs one binary until it exits (its status) or ctx ends. On trial,
// it gives the child a pipe to confirm on and goes back when the child
// exits or the trial time passes before it did; the status is then
// ExitRestart, to start the previous binary.
func run(ctx context.Context, o LaunchOptions, dir, path string, trial bool) (int, error) {
	cmd := exec.Command(path, o.Args...)
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	cmd.Env = append(os.Environ(), envLaunched+"=1")
	cmd.SysProcAttr = childAttr()
	var confirm *os.File
	if trial {
		r, w, err := os.Pipe()
		if err != nil {
			return 0, fmt.Errorf("trial pipe: %w", err)
		}
		defer r.Close()
		cmd.ExtraFiles = []*os.File{w}
		cmd.Env = append(cmd.Env, envConfirmFD+"=3")
		confirm = r
		defer w.Close()
	}
	if err := cmd.Start(); err != nil {
		if !trial {
			return 0, fmt.Errorf("start the edge %s: %w", path, err)
		}
		return ExitRestart, backFromTrial(dir, o.Log, fmt.Sprintf("it did not start: %v", err))
	}
	o.Log.Info("edge started", "binary", path, "pid", cmd.Process.Pid, "trial", trial)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	confirmed := make(chan bool, 1)
	var deadline <-chan time.Time
	if trial {
		cmd.ExtraFiles[0].Close() // the child holds its end
		go func() {
			b := make([]byte, 3)
			n, _ := io.ReadFull(confirm, b)
			confirmed <- n == 3 && string(b) == "ok\n"
		}()
		t := time.NewTimer(o.Trial)
		defer t.Stop()
		deadline = t.C
	}
	for {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			return 0, nil
		case ok := <-confirmed:
			confirmed = nil // read once
			if !ok {
				continue // the pipe closed: the child exits, or exited
			}
			if err := keepTrial(dir, o.Log); err != nil {
				return 0, err
			}
			trial, deadline = false, nil
		case <-deadline:
			_ = cmd.Process.Kill()
			<-exited
			return ExitRestart, backFromTrial(dir, o.Log, fmt.Sprintf("it did not report to the hub within %s", o.Trial))
		case err := <-exited:
			code := exitCode(err)
			if trial {
				// A confirmation the child sent just before it exited
				// counts. The pipe's write end died with the child (the
				// edge does not pass it on: close-on-exec), so the read
				// ends now.
				if confirmed != nil && <-confirmed {
					if err := keepTrial(dir, o.Log); err != nil {
						return 0, err
					}
					return code, nil
				}
				return ExitRestart, backFromTrial(dir, o.Log, fmt.Sprintf("it exited (%s) before it reported to the hub", describeExit(err)))
			}
			return code, nil
		}
	}
}

// keepTrial makes the binary on trial the current one.
func keepTrial(dir string, log *slog.Logger) error {
	st, err := LoadSoftwareState(dir)
	if err != nil {
		return err
	}
	if st.Trial == nil {
		return nil
	}
	st.Previous, st.Current, st.Trial, st.Attempts = st.Current, st.Trial, nil, 0
	log.Info("update kept: it reported to the hub", "version", st.Current.Version)
	return saveSoftwareState(dir, st)
}

// backFromTrial goes back from the binary on trial, which failed for why.
func backFromTrial(dir string, log *slog.Logger, why string) error {
	st, err := LoadSoftwareState(dir)
	if err != nil {
		return err
	}
	if st.Trial == nil {
		return nil
	}
	log.Error("update failed; going back to the previous version", "version", st.Trial.Version, "reason", why)
	return goBack(dir, st, "version "+st.Trial.Version+" went back: "+why)
}

// goBack records st's trial as failed for why and drops it (its file
// too): the current binary runs again.
func goBack(dir string, st SoftwareState, why string) error {
	t := st.Trial
	st.fail(Failure{Version: t.Version, SHA256: t.SHA256, Reason: why})
	st.Trial, st.Attempts = nil, 0
	st.RolledBack++
	if err := saveSoftwareState(dir, st); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(dir, t.File))
	return nil
}

// removeStale removes what the state does not name: downloads cut short,
// binaries older than the previous one.
func removeStale(dir string, st SoftwareState, log *slog.Logger) {
	keep := map[string]bool{softwareStateFile: true}
	for _, b := range []*Binary{st.Current, st.Previous, st.Trial} {
		if b != nil {
			keep[b.File] = true
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if keep[e.Name()] || !(strings.HasPrefix(e.Name(), "molen-") || strings.HasSuffix(e.Name(), ".tmp")) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
			log.Info("removed a stale file of the software directory", "file", e.Name())
		}
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if c := ee.ExitCode(); c >= 0 {
			return c
		}
		return 128 + int(signalOf(ee))
	}
	if err != nil {
		return 1
	}
	return 0
}

func describeExit(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}
