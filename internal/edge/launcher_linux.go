package edge

import (
	"os/exec"
	"syscall"
)

// childAttr has the edge die with its launcher: a launcher killed
// (kill -9) leaves no edge behind to hold its ports and files when the
// service manager starts the launcher again.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func signalOf(ee *exec.ExitError) syscall.Signal {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// closeOnExec keeps fd from the processes the edge starts.
func closeOnExec(fd int) { syscall.CloseOnExec(fd) }
