package edge

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// script writes an executable shell script into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// The launcher keeps a version on trial that confirms, goes back from
// one that exits before it confirms, that does not confirm within the
// trial time, and that it finds started already (the launcher was
// killed during the trial); the version it goes back to runs again.
func TestSupervise(t *testing.T) {
	for _, tt := range []struct {
		name     string
		trial    string // the script on trial; "" for a trial already started
		keep     bool
		reason   string
		exitCode int // of the binary that runs last
	}{
		{name: "confirms", trial: `echo ok >&3; exit 0`, keep: true},
		{name: "confirms, then exits", trial: `echo ok >&3; exit 4`, keep: true, exitCode: 4},
		{name: "crashes at start", trial: `exit 3`, reason: "exited (exit status 3) before it reported to the hub"},
		{name: "not there", trial: "-", reason: "it did not start"},
		{name: "never confirms", trial: `exec sleep 600`, reason: "it did not report to the hub within"},
		{name: "on trial when the launcher stopped", reason: "the edge stopped while it was on trial"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			dir := filepath.Join(data, SoftwareDir)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			// The installed binary leaves a mark that it ran.
			installed := script(t, data, "installed", `touch "$0.ran"; exit 0`)
			st := SoftwareState{Trial: &Binary{Version: "2.0.0", SHA256: "ab", File: "molen-2.0.0-ab"}}
			switch tt.trial {
			case "":
				st.Attempts = 1
				script(t, dir, st.Trial.File, `exit 0`)
			case "-":
			default:
				script(t, dir, st.Trial.File, tt.trial)
			}
			if err := saveSoftwareState(dir, st); err != nil {
				t.Fatal(err)
			}
			err := Supervise(t.Context(), LaunchOptions{DataDir: data, Installed: installed, Trial: 300 * time.Millisecond,
				Log: slog.New(slog.DiscardHandler), Stdout: os.Stdout, Stderr: os.Stderr})
			if tt.exitCode != 0 {
				if ee, ok := err.(ExitError); !ok || ee.Code != tt.exitCode {
					t.Fatalf("Supervise = %v, want exit status %d", err, tt.exitCode)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got, err := LoadSoftwareState(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, ranInstalled := os.Stat(installed + ".ran")
			if tt.keep {
				if got.Current == nil || got.Current.Version != "2.0.0" || got.Trial != nil || ranInstalled == nil {
					t.Fatalf("state %+v (installed ran: %v), want 2.0.0 kept", got, ranInstalled == nil)
				}
				return
			}
			if got.Current != nil || got.Trial != nil || len(got.Failed) != 1 || got.RolledBack != 1 ||
				!strings.Contains(got.Failed[0].Reason, tt.reason) || ranInstalled != nil {
				t.Fatalf("state %+v (installed ran: %v), want 2.0.0 failed for %q and the installed binary run", got, ranInstalled == nil, tt.reason)
			}
			if _, err := os.Stat(filepath.Join(dir, "molen-2.0.0-ab")); !os.IsNotExist(err) {
				t.Errorf("the failed binary is still there: %v", err)
			}
		})
	}
}
