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
		for range 50 {
			if exec.Command("umount", dir).Run() == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
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
	disk := pick(1<<20, 4<<20)
	cases := []struct {
		name     string
		maxBytes int64 // the edge's bound: larger than the disk
		full     bool  // in the full suite only
	}{
		// Segments of half the disk: forwarding frees whole segments.
		{"segments smaller than the disk", 2 * int64(disk), false},
		// The default bound: one 8 MiB segment would be larger than the disk.
		{"default bound", 1 << 30, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.full {
				fullOnly(t)
			}
			parallel(t)
			rate := 100.0
			dir := t.TempDir()
			var wrap []string
			how := fmt.Sprintf("tmpfs of %s", bytesText(int64(disk)))
			if err := mountTmpfs(t, dir, disk); err != nil {
				t.Logf("%v; limiting the file size with prlimit instead", err)
				if _, err := exec.LookPath("prlimit"); err != nil {
					t.Skip("neither mount nor prlimit available")
				}
				wrap = []string{"prlimit", "--fsize=" + strconv.Itoa(disk)}
				how = fmt.Sprintf("file size limit of %s (prlimit)", bytesText(int64(disk)))
			}
			l := newLinkRig(t, rate, rigOpts{dir: dir, wrap: wrap,
				flags: []string{"--buffer-max-bytes", strconv.FormatInt(c.maxBytes, 10)}})
			l.s = startSim(t, l.e.mqtt, rate)
			l.waitForwarding(t)

			// Cut the hub off until the edge refuses data for want of space,
			// and for a few messages more: it keeps running, refusing.
			l.p.down()
			cut := time.Now()
			full, fullAt := l.e.waitFor(t, 2*time.Minute, "refuse data on a full disk", func(s edgeStatus) bool {
				return s.Ingest.Refused["write_error"] > 0
			})
			still, _ := l.e.waitFor(t, time.Minute, "keep refusing data on the full disk", func(s edgeStatus) bool {
				return s.Ingest.Refused["write_error"] >= full.Ingest.Refused["write_error"]+4
			})
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
			t.Logf("disk full %s after the hub was cut off: %d bytes buffered, %d bytes free; %d messages refused in %s",
				fmtDur(fullAt.Sub(cut)), full.Outbox.DiskBytes, freeBytes(dir), still.Ingest.Refused["write_error"], fmtDur(time.Since(fullAt)))

			// The hub is back: forwarding deletes segments and frees space,
			// and the edge takes data again.
			l.p.up()
			up := time.Now()
			_, at := l.e.waitFor(t, 2*time.Minute, "forward the backlog and take data again after the hub came back", func(s edgeStatus) bool {
				return s.Outbox.PendingPoints <= l.drainedBelow() && s.Ingest.Points > still.Ingest.Points
			})
			l.s.stop(t)
			l.e.waitDrained(t, time.Minute)
			ta := l.h.verify(t, l.s)
			report(t, figure{
				Scenario: "5 disk full, " + c.name,
				Run: fmt.Sprintf("%s, --buffer-max-bytes %s, sim %g ticks/s; full after %s, hub away %s more",
					how, bytesText(c.maxBytes), rate, fmtDur(fullAt.Sub(cut)), fmtDur(up.Sub(fullAt))),
				Acked:  ta.points,
				Lost:   ta.lost,
				Dup:    ta.dup,
				Drops:  fmt.Sprintf("none; %s messages refused", thousands(still.Ingest.Refused["write_error"])),
				Resume: "accepting again and forwarded " + fmtDur(at.Sub(up)) + " after the hub came back",
			})
			checkNoLoss(t, ta, false)
		})
	}
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
