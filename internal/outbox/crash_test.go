//go:build linux

package outbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment of the helper process that TestHelperProcess becomes.
const (
	helperEnv     = "OUTBOX_TEST_HELPER" // "kill", "drop" or "fsize"
	helperDirEnv  = "OUTBOX_TEST_DIR"
	helperSyncEnv = "OUTBOX_TEST_SYNC_INTERVAL"
	helperTagEnv  = "OUTBOX_TEST_TAG"
)

// helper starts this test binary as a helper process of the given kind.
func helper(t *testing.T, kind, dir string, syncInterval time.Duration, tag string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+kind, helperDirEnv+"="+dir,
		helperSyncEnv+"="+syncInterval.String(), helperTagEnv+"="+tag)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestHelperProcess is not a test: it is the body of the child processes
// of TestKill9, TestKill9WhileDropping and TestWriteError.
func TestHelperProcess(t *testing.T) {
	kind := os.Getenv(helperEnv)
	if kind == "" {
		t.Skip("helper process for other tests")
	}
	si, err := time.ParseDuration(os.Getenv(helperSyncEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	dir, tag := os.Getenv(helperDirEnv), os.Getenv(helperTagEnv)
	switch kind {
	case "kill":
		killChild(dir, si, tag)
	case "drop":
		dropChild(dir)
	case "fsize":
		if err := fsizeChild(dir); err != nil {
			fmt.Println("FAIL", err)
		} else {
			fmt.Println("OK")
		}
	}
	os.Exit(0)
}

// killData is the record the kill child appends as number i of goroutine g
// in cycle tag.
func killData(tag string, g, i int) ([]byte, int) {
	key := fmt.Sprint(tag, "/", g, "/", i)
	return payload(key, (g*131+i*17)%3000), i % 7
}

// killChild appends records from several goroutines until it is killed and
// prints "A seq tag g i" for each Append that returned nil, while a
// forwarder acknowledges what it has read, lagging behind.
func killChild(dir string, si time.Duration, tag string) {
	l, err := Open(dir, Options{SegmentBytes: 32 << 10, MaxBytes: 1 << 30, SyncInterval: si})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	for g := range 4 {
		go func() {
			for i := 0; ; i++ {
				data, w := killData(tag, g, i)
				seq, err := l.Append(context.Background(), data, w)
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "A %d %s %d %d\n", seq, tag, g, i) // one write(2): in the pipe once it returns
				mu.Unlock()
			}
		}()
	}
	next := l.Acked() + 1
	for {
		if err := l.Wait(context.Background(), next-1); err != nil {
			os.Exit(2)
		}
		es, err := l.Read(next, 100, 1<<20)
		if err != nil {
			fmt.Fprintln(os.Stderr, "read:", err)
			os.Exit(2)
		}
		if len(es) > 0 {
			next = es[len(es)-1].Seq + 1
		}
		if ack := (next - 1) / 2; ack > l.Acked() { // half stays for the parent to check
			if err := l.Ack(ack); err != nil {
				fmt.Fprintln(os.Stderr, "ack:", err)
				os.Exit(2)
			}
		}
	}
}

// TestKill9 kills a process that appends records at random moments and
// checks that every record whose Append returned is on disk, intact.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, si := range []time.Duration{0, 50 * time.Millisecond} {
		t.Run(fmt.Sprint("sync_interval=", si), func(t *testing.T) {
			dir := t.TempDir()
			type ref struct {
				tag  string
				g, i int
			}
			reported := map[uint64]ref{}
			r := rand.New(rand.NewPCG(uint64(si), 9))
			for cycle := range 5 {
				tag := strconv.Itoa(cycle)
				cmd := helper(t, "kill", dir, si, tag)
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				lines := make(chan string, 1024)
				go func() {
					sc := bufio.NewScanner(stdout)
					for sc.Scan() {
						lines <- sc.Text()
					}
					close(lines)
				}()
				kill := time.After(time.Duration(50+r.IntN(250)) * time.Millisecond)
				started := false
				n := 0
			read:
				for {
					select {
					case line, ok := <-lines:
						if !ok {
							break read
						}
						f := strings.Fields(line)
						if len(f) != 5 || f[0] != "A" {
							continue
						}
						seq, _ := strconv.ParseUint(f[1], 10, 64)
						g, _ := strconv.Atoi(f[3])
						i, _ := strconv.Atoi(f[4])
						if prev, dup := reported[seq]; dup {
							t.Fatalf("seq %d returned twice: %v and %s", seq, prev, line)
						}
						reported[seq] = ref{f[2], g, i}
						n++
						if !started && n >= 20 {
							started = true
						}
					case <-kill:
						if !started { // let the child get going first
							kill = time.After(10 * time.Millisecond)
							continue
						}
						cmd.Process.Signal(syscall.SIGKILL)
						kill = nil
					}
				}
				err = cmd.Wait()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("cycle %d: child did not die by SIGKILL: %v", cycle, err)
				}
				t.Logf("cycle %d: %d appends returned", cycle, n)
			}

			l := openLog(t, dir, Options{SegmentBytes: 32 << 10, MaxBytes: 1 << 30})
			st := l.Stats()
			if len(st.Dropped) != 0 {
				t.Errorf("dropped after kill -9: %+v", st.Dropped)
			}
			got := map[uint64]Entry{}
			var prev uint64
			for _, e := range readAll(t, l, 0) {
				if prev != 0 && e.Seq != prev+1 {
					t.Errorf("gap: %d after %d", e.Seq, prev)
				}
				prev = e.Seq
				got[e.Seq] = e
			}
			checked := 0
			for seq, rf := range reported {
				if seq <= st.AckedSeq {
					continue // acknowledged, may be deleted
				}
				e, ok := got[seq]
				data, w := killData(rf.tag, rf.g, rf.i)
				if !ok {
					t.Errorf("seq %d (cycle %s) returned from Append but is lost", seq, rf.tag)
					continue
				}
				if !bytes.Equal(e.Data, data) || e.Weight != w {
					t.Errorf("seq %d: data differs", seq)
				}
				checked++
			}
			if checked < 100 {
				t.Errorf("only %d records checked", checked)
			}
			t.Logf("%d appends reported, %d checked after acked %d", len(reported), checked, st.AckedSeq)
		})
	}
}

// dropOptions make a log that drop-oldest keeps dropping from: 4 segments
// of 64 records of dropData bytes.
var dropOptions = Options{SegmentBytes: 64 * (recHeaderLen + dropData), MaxBytes: 256 * (recHeaderLen + dropData)}

// The records of dropChild: dropData bytes, dropWeight points.
const (
	dropData   = 100
	dropWeight = 3
)

// dropChild appends records to a log that overflows (dropOptions) from
// several goroutines until it is killed, while a reader holds records and
// never gets them through: the receiver is away, and when it answers at
// all, it has none of them. Every record it appended is therefore either
// on disk or dropped. It prints "R" once the log has overflowed.
func dropChild(dir string) {
	l, err := Open(dir, dropOptions)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	appended := make(chan struct{}, 64)
	for g := range 4 {
		go func() {
			for i := 0; ; i++ {
				if _, err := l.Append(context.Background(), payload(fmt.Sprint(g, "/", i), dropData), dropWeight); err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(2)
				}
				appended <- struct{}{}
			}
		}()
	}
	// sending lets n more records be appended: the time a request takes.
	// After twice what the log holds, it has been dropping for a while.
	var n int
	sending := func(k int) {
		for range k {
			<-appended
			if n++; n == 2*256 {
				fmt.Println("R")
			}
		}
	}
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	for {
		_, err := l.Read(l.Acked()+1, 1+r.IntN(100), 1<<20)
		switch {
		case errors.Is(err, ErrWatermarkNeeded):
			if r.IntN(2) == 0 {
				l.Delivered(0, 0, 0)
			}
		case err != nil:
			fmt.Fprintln(os.Stderr, "read:", err)
			os.Exit(2)
		}
		sending(1 + r.IntN(100))
	}
}

// TestKill9WhileDropping kills a process at random moments while its log
// drops records, some of them from a reader's hands, and checks after
// each kill that every record it ever appended is on disk or counted as
// dropped: a drop is on disk with its count, never before it.
func TestKill9WhileDropping(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 8))
	var before int64
	for cycle := range 10 {
		cmd := helper(t, "drop", dir, 0, "")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		if !sc.Scan() || sc.Text() != "R" {
			cmd.Process.Kill()
			t.Fatalf("cycle %d: the child did not start dropping: %q %v", cycle, sc.Text(), cmd.Wait())
		}
		time.Sleep(time.Duration(r.IntN(50_000)) * time.Microsecond) // the moment of the kill: random
		cmd.Process.Signal(syscall.SIGKILL)
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("cycle %d: child did not die by SIGKILL: %v", cycle, err)
		}

		l := openLog(t, dir, dropOptions)
		st := l.Stats()
		gone := int64(st.LastSeq) - st.PendingRecords // nothing was ever acknowledged
		want := DropCount{Records: gone, Points: dropWeight * gone, Bytes: (recHeaderLen + dropData) * gone}
		if got := st.Dropped[ReasonFull]; got != want {
			t.Fatalf("cycle %d: %d records appended, %d on disk: dropped %+v, want %+v", cycle, st.LastSeq, st.PendingRecords, got, want)
		}
		if gone <= before {
			t.Fatalf("cycle %d: nothing dropped since the last cycle (%d records dropped)", cycle, gone)
		}
		before = gone
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// fsizeChild appends under a small RLIMIT_FSIZE until writes fail (EFBIG,
// like a full disk), checks the log is intact, lifts the limit and checks
// the log works again.
func fsizeChild(dir string) error {
	const limit = 64 << 10
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		return err
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: old.Max}); err != nil {
		return err
	}
	l, err := Open(dir, Options{SegmentBytes: 1 << 20, MaxBytes: 1 << 30})
	if err != nil {
		return err
	}
	ctx := context.Background()
	var ok []uint64
	var failures int
	var werr error
	for i := 0; failures < 3; i++ {
		seq, err := l.Append(ctx, payload(fmt.Sprint(i), 1000+i), 1)
		if err != nil {
			werr = err
			failures++
			continue
		}
		ok = append(ok, seq)
	}
	if !errors.Is(werr, syscall.EFBIG) || errors.Is(werr, ErrFull) {
		return fmt.Errorf("append error %v, want EFBIG", werr)
	}
	// The partial write was taken back: the segment ends with the last record.
	if fi, err := os.Stat(dir + "/" + segName(1)); err != nil {
		return err
	} else if fi.Size() != l.Stats().DiskBytes {
		return fmt.Errorf("segment after failed writes: size %d, want %d", fi.Size(), l.Stats().DiskBytes)
	}
	check := func(l *Log, n int) error {
		es, err := l.Read(0, 0, 0)
		if err != nil {
			return err
		}
		if len(es) != n {
			return fmt.Errorf("read %d records, want %d", len(es), n)
		}
		for i, e := range es {
			if e.Seq != uint64(i+1) {
				return fmt.Errorf("record %d has seq %d", i, e.Seq)
			}
		}
		return nil
	}
	if err := check(l, len(ok)); err != nil {
		return fmt.Errorf("after failed writes: %w", err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		return err
	}
	for i := range 50 {
		seq, err := l.Append(ctx, payload("more", 1000+i), 1)
		if err != nil {
			return fmt.Errorf("append after the limit was lifted: %w", err)
		}
		if want := uint64(len(ok) + 1); seq != want {
			return fmt.Errorf("seq after failed writes %d, want %d", seq, want)
		}
		ok = append(ok, seq)
	}
	if err := l.Close(); err != nil {
		return err
	}
	l, err = Open(dir, Options{SegmentBytes: 1 << 20, MaxBytes: 1 << 30})
	if err != nil {
		return err
	}
	defer l.Close()
	if st := l.Stats(); len(st.Dropped) != 0 {
		return fmt.Errorf("reopen found damage: %+v", st.Dropped)
	}
	return check(l, len(ok))
}

// TestWriteError makes writes fail with a file size limit in a child
// process (RLIMIT_FSIZE is per process) and checks recovery.
func TestWriteError(t *testing.T) {
	cmd := helper(t, "fsize", t.TempDir(), 0, "")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasSuffix(got, "OK") {
		t.Fatalf("helper: %s", got)
	}
}
