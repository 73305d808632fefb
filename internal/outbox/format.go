package outbox

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
	"sync"
)

// Sizes and names of the on-disk format (see doc.go).
const (
	segHeaderLen = 8  // magic and version at the start of every segment
	recHeaderLen = 28 // length, crc, seq, time, weight
	segSuffix    = ".seg"
	segNameLen   = 20 + len(segSuffix)

	// MaxRecordBytes bounds the data of one record. A length field above it
	// is corruption, not a record.
	MaxRecordBytes = 64 << 20

	// maxSeq bounds the sequence numbers of the cursor file and maxSegSeq
	// those of segment names, so that arithmetic on them never overflows: a
	// log would take 146 years at 1e9 records/s to get from one to the other.
	maxSeq    = 1 << 62
	maxSegSeq = 1 << 63

	// markEvery is the spacing in bytes of a segment's in-memory index:
	// finding a record costs one scan of at most this much.
	markEvery = 64 << 10
)

// segMagic starts every segment file; its last byte is the format version.
var segMagic = [segHeaderLen]byte{'m', 'o', 'l', 'e', 'n', 'o', 'b', 1}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTruncated reports a record cut short by the end of its segment.
var errTruncated = errors.New("record extends past end of segment")

// segName is the file name of the segment whose first record is first.
func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

// parseSegName returns the first sequence number a segment file name
// announces; ok is false for any other file name.
func parseSegName(name string) (first uint64, ok bool) {
	if len(name) != segNameLen || !strings.HasSuffix(name, segSuffix) {
		return 0, false
	}
	for _, c := range name[:20] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(name[:20], 10, 64)
	return n, err == nil && n > 0 && n <= maxSegSeq
}

// header is a decoded record header.
type header struct {
	length uint32 // bytes of data after the header
	crc    uint32
	seq    uint64
	time   int64 // unix ns of Append
	weight uint32
}

func decodeHeader(b []byte) header {
	return header{
		length: binary.LittleEndian.Uint32(b[0:]),
		crc:    binary.LittleEndian.Uint32(b[4:]),
		seq:    binary.LittleEndian.Uint64(b[8:]),
		time:   int64(binary.LittleEndian.Uint64(b[16:])),
		weight: binary.LittleEndian.Uint32(b[24:]),
	}
}

// size is the number of bytes the record takes in its segment.
func (h header) size() int64 { return recHeaderLen + int64(h.length) }

// checksum is the CRC-32C of a record: the length field, then everything
// after the crc field (seq, time, weight, data).
func checksum(hdr, data []byte) uint32 {
	c := crc32.Update(0, castagnoli, hdr[0:4])
	c = crc32.Update(c, castagnoli, hdr[8:recHeaderLen])
	return crc32.Update(c, castagnoli, data)
}

// appendRecord appends the encoding of one record to dst.
func appendRecord(dst []byte, seq uint64, t int64, weight uint32, data []byte) []byte {
	n := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(data)))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(t))
	dst = binary.LittleEndian.AppendUint32(dst, weight)
	dst = append(dst, data...)
	binary.LittleEndian.PutUint32(dst[n+4:], checksum(dst[n:n+recHeaderLen], dst[n+recHeaderLen:]))
	return dst
}

// readerPool recycles the buffers of recordReaders.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// recordReader reads the records of one segment sequentially from off up to
// end, with few system calls.
type recordReader struct {
	br  *bufio.Reader
	off int64 // offset of the next unread byte
	end int64
	hdr [recHeaderLen]byte
}

func newRecordReader(r io.ReaderAt, off, end int64) *recordReader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(io.NewSectionReader(r, off, end-off))
	return &recordReader{br: br, off: off, end: end}
}

// release returns the buffer to the pool; rr must not be used afterwards.
func (rr *recordReader) release() {
	rr.br.Reset(nil)
	readerPool.Put(rr.br)
	rr.br = nil
}

// header reads the next record header. It returns io.EOF at end and
// errTruncated if the header or the record it announces does not fit.
func (rr *recordReader) header() (header, error) {
	if rr.off >= rr.end {
		return header{}, io.EOF
	}
	if rr.end-rr.off < recHeaderLen {
		return header{}, errTruncated
	}
	if _, err := io.ReadFull(rr.br, rr.hdr[:]); err != nil {
		return header{}, err
	}
	rr.off += recHeaderLen
	h := decodeHeader(rr.hdr[:])
	if h.length > MaxRecordBytes {
		return h, fmt.Errorf("%w: length %d", ErrCorrupt, h.length)
	}
	if int64(h.length) > rr.end-rr.off {
		return h, errTruncated
	}
	return h, nil
}

// data reads the data of the record whose header was just read into buf and
// verifies its checksum.
func (rr *recordReader) data(h header, buf []byte) error {
	if _, err := io.ReadFull(rr.br, buf); err != nil {
		return err
	}
	rr.off += int64(len(buf))
	if checksum(rr.hdr[:], buf) != h.crc {
		return fmt.Errorf("%w: checksum mismatch at seq %d", ErrCorrupt, h.seq)
	}
	return nil
}

// skip passes over the data of the record whose header was just read.
func (rr *recordReader) skip(h header) error {
	if _, err := rr.br.Discard(int(h.length)); err != nil {
		return err
	}
	rr.off += int64(h.length)
	return nil
}
