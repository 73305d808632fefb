package faults

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of size bytes on dir (as root); it returns an
// error where mounting is not allowed.
func mountTmpfs(t *testing.T, dir string, size int) error {
	t.Helper()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mount tmpfs: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		// The edge is gone by now (its cleanup runs first), but the
		// kernel may need a moment to release its files.
		var out []byte
		var err error
		for range 50 {
			if out, err = exec.Command("umount", dir).CombinedOutput(); err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		if out, err = exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return nil
}

// freeBytes is the space left on the filesystem of dir.
func freeBytes(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// TestFaultsDiskFull runs the edge on a filesystem too small for its
// buffer bound (a tmpfs; without the right to mount, a file size limit
// set with prlimit stands in) and cuts it off from the hub until the disk
// is full. The edge must keep running and refuse device data (so devices
// keep it) rather than crash or lose what it acknowledged, and must accept
// data again once forwarding frees space.
func TestFaultsDiskFull(t *testing.T) {
	parallel(t)
	const disk = 4 << 20
	cases := []struct {
		name     string
		maxBytes int64 // the edge's bound: larger than the disk
	}{
		// Segments of 2 MiB: forwarding frees whole segments.
		{"segments smaller than the disk", 8 << 20},
		// The default bound: one 8 MiB segment would be larger than the disk.
		{"default bound", 1 << 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parallel(t)
			rate := 100.0
			dir := t.TempDir()
			var wrap []string
			how := "tmpfs of 4 MiB"
			if err := mountTmpfs(t, dir, disk); err != nil {
				t.Logf("%v; limiting the file size with prlimit instead", err)
				if _, err := exec.LookPath("prlimit"); err != nil {
					t.Skip("neither mount nor prlimit available")
				}
				wrap = []string{"prlimit", "--fsize=" + strconv.Itoa(disk)}
				how = "file size limit of 4 MiB (prlimit)"
			}
			l := newLinkRig(t, rate, rigOpts{dir: dir, wrap: wrap,
				flags: []string{"--buffer-max-bytes", strconv.FormatInt(c.maxBytes, 10)}})
			l.s = startSim(t, l.e.mqtt, rate)
			time.Sleep(500 * time.Millisecond)

			// Cut the hub off until the edge refuses data for want of space.
			l.p.down()
			cut := time.Now()
			full, fullAt := l.e.waitFor(t, 2*time.Minute, "refuse data on a full disk", func(s edgeStatus) bool {
				return s.Ingest.Refused["write_error"] > 0
			})
			time.Sleep(2 * time.Second)
			still := l.e.status(t)
			if exited, err := l.e.exited(); exited {
				t.Fatalf("the edge exited on a full disk: %v", err)
			}
			held := l.s.publishedTicks() - l.s.ackedTicks()
			if held == 0 {
				t.Errorf("the devices held nothing back while the disk was full")
			}
			if n := still.Outbox.DroppedPoints["full"]; n != 0 {
				t.Errorf("%d points dropped: the disk filled before the bound, nothing should be dropped", n)
			}
			refusedWhileFull := still.Ingest.Refused["write_error"]
			t.Logf("disk full %s after the hub was cut off: %d bytes buffered, %d bytes free; %d messages refused in %s",
				fmtDur(fullAt.Sub(cut)), full.Outbox.DiskBytes, freeBytes(dir), refusedWhileFull, fmtDur(time.Since(fullAt)))

			// The hub is back: forwarding deletes segments and frees space.
			dupsBefore := l.h.duplicates()
			l.p.up()
			up := time.Now()
			live := max(int64(float64(pointsPerTick())*rate/4), 20)
			// The backlog: points pending at the edge and held by the devices.
			backlog := func(st edgeStatus) int64 {
				return st.Outbox.PendingPoints + (l.s.publishedTicks()-l.s.ackedTicks())*int64(pointsPerTick())/int64(len(machineTopics()))
			}
			caughtUp := func(st edgeStatus) bool { return backlog(st) <= live }
			st, at := waitProgress(l.e, pick(10*time.Second, 20*time.Second), backlog, caughtUp)
			f := figure{
				Scenario: "5 disk full, " + c.name,
				Run: fmt.Sprintf("%s, --buffer-max-bytes %s, sim %g ticks/s; full after %s, hub away %s more",
					how, bytesText(c.maxBytes), rate, fmtDur(fullAt.Sub(cut)), fmtDur(up.Sub(fullAt))),
				Drops: fmt.Sprintf("none; %s messages refused", thousands(still.Ingest.Refused["write_error"])),
			}
			var wedged string
			if at.IsZero() {
				// No progress: the edge cannot record what the hub
				// acknowledged, so it frees nothing.
				wedged = fmt.Sprintf("the edge did not recover after the hub came back: no progress for %s; %d points pending, %d bytes on disk, %d bytes free, %d messages refused since the hub came back, devices hold %d ticks, the hub skipped %.0f resent records meanwhile; last error %q",
					fmtDur(time.Since(up)), st.Outbox.PendingPoints, st.Outbox.DiskBytes, freeBytes(dir),
					st.Ingest.Refused["write_error"]-refusedWhileFull, l.s.publishedTicks()-l.s.ackedTicks(),
					l.h.duplicates()-dupsBefore, st.Hub.LastError)
				t.Log(wedged)
				f.Resume = "**no recovery** (" + fmtDur(time.Since(up)) + " without progress)"
				if wrap != nil {
					t.Fatal(wedged)
				}
				// An operator frees space: the filesystem grows.
				if out, err := exec.Command("mount", "-o", "remount,size=16m", dir).CombinedOutput(); err != nil {
					t.Fatalf("%s; and growing the tmpfs failed: %v: %s", wedged, err, out)
				}
				grown := time.Now()
				if _, at = waitProgress(l.e, 30*time.Second, backlog, caughtUp); at.IsZero() {
					t.Fatalf("%s; and still no recovery after the tmpfs grew to 16 MiB", wedged)
				}
				f.Resume += "; drained " + fmtDur(at.Sub(grown)) + " after space was freed by hand"
			} else {
				f.Resume = "accepting again and drained " + fmtDur(at.Sub(up)) + " after the hub came back"
			}
			l.s.stop(t)
			l.e.waitDrained(t, time.Minute)
			ta := l.h.verify(t, l.s)
			f.Acked, f.Lost, f.Dup = ta.points, ta.lost, ta.dup
			report(t, f)
			checkNoLoss(t, ta, false)
			if wedged != "" {
				t.Error(wedged)
			}
		})
	}
}

// waitProgress polls the edge's status until ok holds, as long as the
// backlog keeps shrinking: it gives up once backlog has not fallen for
// stall. at is zero if it gave up.
func waitProgress(e *edge, stall time.Duration, backlog func(edgeStatus) int64, ok func(edgeStatus) bool) (st edgeStatus, at time.Time) {
	low := int64(-1)
	progress := time.Now()
	for time.Since(progress) < stall {
		s, err := e.fetchStatus()
		if err == nil {
			st = s
			if ok(s) {
				return s, time.Now()
			}
			if b := backlog(s); low < 0 || b < low {
				low, progress = b, time.Now()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return st, time.Time{}
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
