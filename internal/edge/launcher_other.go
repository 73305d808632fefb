//go:build !linux

package edge

import (
	"os/exec"
	"syscall"
)

// childAttr: elsewhere the service manager stops the launcher's process
// group (systemd's KillMode=control-group on Linux does the same).
func childAttr() *syscall.SysProcAttr { return nil }

func signalOf(*exec.ExitError) syscall.Signal { return 0 }

// closeOnExec: the launcher runs on Linux only (Supervise without
// Pdeathsig elsewhere has no trial pipe to protect).
func closeOnExec(int) {}
