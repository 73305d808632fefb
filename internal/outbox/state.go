package outbox

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"

	"github.com/molen-io/molen/internal/atomicfile"
)

// File names in a log directory besides the segments.
const (
	idFile        = "id"
	cursorFile    = "cursor"
	lockFile      = "lock"
	quarantineDir = "quarantine"
	tmpSuffix     = ".tmp"
)

// Drop reasons, the keys of Stats.Dropped.
const (
	ReasonFull    = "full"    // deleted by DropOldest to stay within MaxBytes
	ReasonAge     = "age"     // older than MaxAge
	ReasonCorrupt = "corrupt" // failed validation when the log was opened
)

// reasons fixes the order of the drop counters in the cursor file.
var reasons = [...]string{ReasonFull, ReasonAge, ReasonCorrupt}

// cursor is what the cursor file holds: the acknowledged cursor, the drop
// floor and the counters that must survive restarts.
type cursor struct {
	acked    uint64 // every record with seq <= acked was delivered
	floor    uint64 // every record with seq < floor is acknowledged or dropped
	dropped  map[string]DropCount
	rejected int64
	// gaps: every gap in the sequence numbers between segments below it
	// has been counted as corrupt (see recover), so that a gap is counted
	// once, not at every Open.
	gaps uint64
}

// Cursor file versions: 1 without gaps, 2 with it at the end.
var (
	cursorMagicV1 = [8]byte{'m', 'o', 'l', 'e', 'n', 'c', 'u', 1}
	cursorMagic   = [8]byte{'m', 'o', 'l', 'e', 'n', 'c', 'u', 2}
)

const (
	cursorLenV1 = 8 + 8 + 8 + len(reasons)*3*8 + 8 + 4
	cursorLen   = cursorLenV1 + 8
)

func (c cursor) encode() []byte {
	b := make([]byte, 0, cursorLen)
	b = append(b, cursorMagic[:]...)
	b = binary.LittleEndian.AppendUint64(b, c.acked)
	b = binary.LittleEndian.AppendUint64(b, c.floor)
	for _, r := range reasons {
		d := c.dropped[r]
		b = binary.LittleEndian.AppendUint64(b, uint64(d.Records))
		b = binary.LittleEndian.AppendUint64(b, uint64(d.Points))
		b = binary.LittleEndian.AppendUint64(b, uint64(d.Bytes))
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(c.rejected))
	b = binary.LittleEndian.AppendUint64(b, c.gaps)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeCursor(b []byte) (cursor, error) {
	if len(b) < 8 {
		return cursor{}, fmt.Errorf("%d bytes", len(b))
	}
	want := cursorLen
	switch [8]byte(b[:8]) {
	case cursorMagic:
	case cursorMagicV1:
		want = cursorLenV1
	default:
		return cursor{}, errors.New("bad magic")
	}
	if len(b) != want {
		return cursor{}, fmt.Errorf("%d bytes, want %d", len(b), want)
	}
	body := b[:want-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[want-4:]) {
		return cursor{}, errors.New("checksum mismatch")
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[8+8*i:]) }
	c := cursor{acked: u(0), floor: u(1), dropped: map[string]DropCount{}}
	if c.acked > maxSeq || c.floor > maxSeq {
		return cursor{}, errors.New("sequence number out of range")
	}
	for i, r := range reasons {
		d := DropCount{Records: int64(u(2 + 3*i)), Points: int64(u(3 + 3*i)), Bytes: int64(u(4 + 3*i))}
		if d.Records < 0 || d.Points < 0 || d.Bytes < 0 {
			return cursor{}, errors.New("negative counter")
		}
		if d != (DropCount{}) {
			c.dropped[r] = d
		}
	}
	c.rejected = int64(u(2 + 3*len(reasons)))
	if c.rejected < 0 {
		return cursor{}, errors.New("negative counter")
	}
	if want == cursorLen {
		c.gaps = u(3 + 3*len(reasons))
	}
	return c, nil
}

// writeFileAtomic replaces dir/name with data: it writes and fsyncs a
// temporary file, renames it over name and fsyncs the directory, so a crash
// leaves either the old or the new content.
func writeFileAtomic(dir, name string, data []byte) error {
	return atomicfile.Write(filepath.Join(dir, name), data, 0o644)
}

// newID returns a fresh random incarnation ID.
func newID() string { return strings.ToLower(rand.Text()) }

// validID reports whether s looks like an ID this package wrote.
func validID(s string) bool {
	if len(s) < 16 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// loadID returns the log's ID, creating it when the directory is new. A
// missing or unreadable ID file in a directory that already holds segments
// also gets a fresh ID: the receiver then sees the surviving records as new
// ones (duplicates), which is safe, while reusing some other ID is not.
func (l *Log) loadID() error {
	b, err := os.ReadFile(filepath.Join(l.dir, idFile))
	if err == nil {
		if id := strings.TrimSpace(string(b)); validID(id) {
			l.id = id
			return nil
		}
		l.log.Warn("outbox ID file is unreadable; starting a new incarnation", "content_bytes", len(b))
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read ID: %w", err)
	}
	l.id = newID()
	if err := writeFileAtomic(l.dir, idFile, []byte(l.id+"\n")); err != nil {
		return fmt.Errorf("write ID: %w", err)
	}
	return nil
}

// loadCursor reads the cursor file. A missing or damaged file is not an
// error: the log then resends everything it holds.
func (l *Log) loadCursor() cursor {
	b, err := os.ReadFile(filepath.Join(l.dir, cursorFile))
	if err == nil {
		c, derr := decodeCursor(b)
		if derr == nil {
			return c
		}
		err = derr
	}
	if !errors.Is(err, os.ErrNotExist) {
		l.log.Warn("outbox cursor unreadable; resending every record on disk", "err", err)
	}
	return cursor{dropped: map[string]DropCount{}}
}
