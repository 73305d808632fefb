package files

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/molen-io/molen/internal/atomicfile"
	"github.com/molen-io/molen/internal/connector"
)

func init() {
	connector.Register(connector.Spec{
		Name: "files",
		Doc:  "read CSV, JSON and JSON Lines files dropped into a watched folder, each once",
		New:  func() connector.Config { return NewConfig() },
		Build: func(cfg connector.Config, log *slog.Logger) (connector.Input, error) {
			c, ok := cfg.(*Config)
			if !ok {
				return nil, fmt.Errorf("files: config is %T, want *files.Config", cfg)
			}
			return New(c, log)
		},
	})
}

// Reasons under which Status.Rejected counts files.
const (
	ReasonBadFile  = "bad_file"  // a file that does not parse or maps onto no valid series
	ReasonTooLarge = "too_large" // a file larger than max_file_size
)

// The subfolders the input moves files into, and its journal.
const (
	DoneDir     = "done"
	FailedDir   = "failed"
	JournalName = ".molen-files.journal"
)

// journalKeep is how many entries the journal keeps when it is compacted;
// an entry matters only until its file is moved, a moment after it is
// written. A variable for tests.
var journalKeep = 10000

// Input watches one folder.
type Input struct {
	cfg    Config
	log    *slog.Logger
	status *connector.Tracker
	ran    atomic.Bool

	now   func() time.Time // the clock of settle times, injectable in tests
	scans atomic.Int64     // folder listings done, for tests
	// hook, if set, runs at the named stages of a file ("written": its
	// points are durable; "journaled": its journal entry too); an error
	// stops the file there, as a crash would.
	hook func(stage, name string) error

	seen    map[string]seenFile // files not yet read: what they looked like when first unchanged
	journal map[string]bool     // journal keys of files whose points are written
	jlines  int                 // entries in the journal file
}

// seenFile is a file's size and modification time, and since when it has
// not changed.
type seenFile struct {
	size  int64
	mtime time.Time
	since time.Time
}

// New returns an input watching cfg.Dir; it does not touch the folder
// before Run.
func New(cfg *Config, log *slog.Logger) (*Input, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	c := *cfg
	c.Dir = dir
	log = log.With("peer", dir)
	return &Input{cfg: c, log: log, status: connector.NewTracker(dir, log), now: time.Now,
		seen: map[string]seenFile{}}, nil
}

// Status reports the input's health.
func (in *Input) Status() connector.Status { return in.status.Status() }

// Run lists the folder every poll interval and reads the files that are
// complete, oldest first, until ctx ends. A folder that is missing or
// unreadable makes the input disconnected until it is back.
func (in *Input) Run(ctx context.Context, sink connector.Sink) error {
	if !in.ran.CompareAndSwap(false, true) {
		return errors.New("files: Run called twice")
	}
	defer in.status.SetState(connector.Stopped)
	connector.Reconnect(ctx, in.status, "folder", in.cfg.BackoffMin, in.cfg.BackoffMax,
		func(ctx context.Context) (bool, error) { return in.session(ctx, sink) })
	return nil
}

// session watches the folder while it is there.
func (in *Input) session(ctx context.Context, sink connector.Sink) (connected bool, err error) {
	if err := in.open(); err != nil {
		return false, err
	}
	in.status.Connected()
	t := time.NewTicker(in.cfg.PollInterval)
	defer t.Stop()
	for {
		if err := in.scan(ctx, sink); err != nil {
			return true, err
		}
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case <-t.C:
		}
	}
}

// open checks the folder and loads its journal.
func (in *Input) open() error {
	fi, err := os.Stat(in.cfg.Dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", in.cfg.Dir)
	}
	return in.loadJournal()
}

// scan lists the folder and reads each complete file.
func (in *Input) scan(ctx context.Context, sink connector.Sink) error {
	defer in.scans.Add(1)
	ents, err := os.ReadDir(in.cfg.Dir)
	if err != nil {
		return fmt.Errorf("list folder: %w", err)
	}
	type ready struct {
		name  string
		mtime time.Time
		size  int64
	}
	var todo []ready
	now := in.now()
	present := make(map[string]bool, len(ents))
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !in.candidate(name) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone since the listing
		}
		present[name] = true
		s, ok := in.seen[name]
		if !ok || s.size != fi.Size() || !s.mtime.Equal(fi.ModTime()) {
			s = seenFile{size: fi.Size(), mtime: fi.ModTime(), since: now}
			in.seen[name] = s
		}
		if now.Sub(s.since) >= in.cfg.Settle {
			todo = append(todo, ready{name, fi.ModTime(), fi.Size()})
		}
	}
	for name := range in.seen {
		if !present[name] {
			delete(in.seen, name)
		}
	}
	sort.Slice(todo, func(i, j int) bool {
		if !todo[i].mtime.Equal(todo[j].mtime) {
			return todo[i].mtime.Before(todo[j].mtime)
		}
		return todo[i].name < todo[j].name
	})
	for _, f := range todo {
		if ctx.Err() != nil {
			return nil
		}
		if err := in.file(ctx, sink, f.name, f.mtime, f.size); err != nil {
			return err
		}
		delete(in.seen, f.name)
	}
	return nil
}

// candidate reports whether a file named name is one to read.
func (in *Input) candidate(name string) bool {
	switch {
	case strings.HasPrefix(name, "."),
		strings.HasSuffix(name, ".tmp"), strings.HasSuffix(name, ".part"),
		strings.HasSuffix(name, ".error"),
		in.cfg.Done == DoneMark && strings.HasSuffix(name, in.cfg.DoneSuffix):
		return false
	}
	ok, _ := filepath.Match(in.cfg.Pattern, name)
	return ok
}

// file reads one complete file. It returns an error only when the folder
// itself fails (a move or the journal), and nil when ctx ended.
func (in *Input) file(ctx context.Context, sink connector.Sink, name string, mtime time.Time, size int64) error {
	path := filepath.Join(in.cfg.Dir, name)
	if size > in.cfg.MaxFileSize {
		return in.fail(name, ReasonTooLarge, fmt.Errorf("%d bytes, max_file_size %d", size, in.cfg.MaxFileSize))
	}
	// The first pass checks the whole file and takes its digest: a file
	// that does not parse stores nothing.
	now := in.now().UnixNano()
	digest, points, err := in.check(path, name, now)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // gone since the listing
	}
	if err != nil {
		return in.fail(name, ReasonBadFile, err)
	}
	key := journalKey(digest, name, mtime)
	if !in.journal[key] {
		if err := in.write(ctx, sink, path, name, digest, now); err != nil || ctx.Err() != nil {
			return nil // a changed file is read again at the next scan; ctx ended
		}
		if in.hook != nil && in.hook("written", name) != nil {
			return nil
		}
		if err := in.addJournal(key); err != nil {
			return err
		}
		if in.hook != nil && in.hook("journaled", name) != nil {
			return nil
		}
	}
	if err := in.finish(name); err != nil {
		return err
	}
	in.log.Debug("file read", "file", name, "points", points)
	return nil
}

// check parses the whole file without writing and returns its SHA-256 and
// how many points it holds.
func (in *Input) check(path, name string, now int64) (digest [32]byte, points int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return digest, 0, err
	}
	defer f.Close()
	h := sha256.New()
	p, err := newParser(&in.cfg, in.cfg.format(name), io.TeeReader(bufio.NewReaderSize(f, 64<<10), h), now)
	if err != nil {
		return digest, 0, err
	}
	for {
		pts, err := p.batch()
		if err == io.EOF {
			break
		}
		if err != nil {
			return digest, 0, err
		}
		points += len(pts)
	}
	if _, err := io.Copy(h, f); err != nil { // what the parser did not need
		return digest, 0, err
	}
	h.Sum(digest[:0])
	return digest, points, nil
}

// errChanged is the error of a file that changed while it was read.
var errChanged = errors.New("file changed while it was read")

// write writes the points of the file in batches, each until the sink
// takes it (or ctx ends).
func (in *Input) write(ctx context.Context, sink connector.Sink, path, name string, digest [32]byte, now int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	p, err := newParser(&in.cfg, in.cfg.format(name), io.TeeReader(bufio.NewReaderSize(f, 64<<10), h), now)
	if err != nil {
		return err
	}
	ms, _ := sink.(connector.MessageSink)
	for n := uint64(0); ; n++ {
		pts, err := p.batch()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		written := len(pts)
		write := func() error { return sink.Write(ctx, pts) }
		if ms != nil {
			msg := []connector.Message{{
				Session:  "files:" + in.cfg.Dir,
				Packet:   uint16(n),
				Topic:    name,
				Payload:  binary.BigEndian.AppendUint64(digest[:], n),
				Received: now,
				Points:   pts,
			}}
			write = func() (err error) { written, err = ms.WriteMessages(ctx, msg); return err }
		}
		if !in.status.Deliver(ctx, "points", len(pts), in.cfg.BackoffMin, in.cfg.BackoffMax, write) {
			return ctx.Err()
		}
		in.status.AddPoints(int64(written))
	}
	io.Copy(h, f)
	if got := h.Sum(nil); string(got) != string(digest[:]) {
		in.status.SetError(fmt.Sprintf("%s: %v; written as read", name, errChanged))
	}
	return nil
}

// finish moves or marks a file whose points are written.
func (in *Input) finish(name string) error {
	from := filepath.Join(in.cfg.Dir, name)
	var to string
	if in.cfg.Done == DoneMark {
		to = from + in.cfg.DoneSuffix
	} else {
		dir := filepath.Join(in.cfg.Dir, DoneDir)
		if err := mkdir(dir); err != nil {
			return fmt.Errorf("make %s: %w", DoneDir, err)
		}
		to = filepath.Join(dir, name)
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("move %s: %w", name, err)
	}
	return atomicfile.SyncDir(in.cfg.Dir)
}

// fail moves a file that cannot be read to failed/, with a note of why
// beside it, and counts it.
func (in *Input) fail(name, reason string, cause error) error {
	msg := fmt.Sprintf("%s: %v", name, cause)
	in.status.Reject(reason, msg)
	in.log.Warn("file not read; moved to "+FailedDir, "file", name, "reason", reason, "err", cause)
	dir := filepath.Join(in.cfg.Dir, FailedDir)
	if err := mkdir(dir); err != nil {
		return fmt.Errorf("make %s: %w", FailedDir, err)
	}
	note := fmt.Sprintf("%s\nreason: %s\nerror: %v\n", time.Now().UTC().Format(time.RFC3339), reason, cause)
	if err := os.WriteFile(filepath.Join(dir, name+".error"), []byte(note), 0o644); err != nil {
		return fmt.Errorf("write note: %w", err)
	}
	if err := os.Rename(filepath.Join(in.cfg.Dir, name), filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("move %s: %w", name, err)
	}
	return nil
}

// journalKey identifies one file dropped once: its content, name and
// modification time. The same content dropped again later (a new mtime)
// is read again.
func journalKey(digest [32]byte, name string, mtime time.Time) string {
	return hex.EncodeToString(digest[:]) + " " + fmt.Sprint(mtime.UnixNano()) + " " + name
}

// loadJournal reads the journal of files whose points are written.
func (in *Input) loadJournal() error {
	in.journal = map[string]bool{}
	in.jlines = 0
	data, err := os.ReadFile(filepath.Join(in.cfg.Dir, JournalName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if line != "" {
			in.journal[line] = true
			in.jlines++
		}
	}
	return nil
}

// addJournal appends key to the journal and syncs it; the journal is
// rewritten with its newest entries once it grows past twice journalKeep.
func (in *Input) addJournal(key string) error {
	path := filepath.Join(in.cfg.Dir, JournalName)
	if in.jlines >= 2*journalKeep {
		if err := in.compactJournal(path); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	_, err = f.WriteString(key + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	in.journal[key] = true
	in.jlines++
	return nil
}

func (in *Input) compactJournal(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	lines = lines[max(0, len(lines)-journalKeep):]
	if err := atomicfile.Write(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	in.journal = make(map[string]bool, len(lines))
	for _, l := range lines {
		in.journal[l] = true
	}
	in.jlines = len(lines)
	return nil
}

// mkdir makes a subfolder of the watched folder unless it exists; never
// the watched folder itself, which may be away.
func mkdir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
