package edge

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"iter"
	"sync"
	"time"

	"github.com/molen-io/molen/internal/outbox"
	"github.com/molen-io/molen/internal/uns"
)

// Bounds of resend recognition (see doc.go).
const (
	// resendKeep is how many stored device publishes the edge remembers,
	// across all clients, oldest forgotten first. A resend follows its
	// original within the PUBACK round trip plus the device's reconnect
	// (when the PUBACK was lost with the connection or the edge process),
	// so the newest publishes are the ones that matter. About 1.6 MiB (see resendTable).
	resendKeep = 1 << 16
	// resendRebuild is how far back from the newest record Start reads the
	// outbox to remember what was stored before the edge stopped. It is
	// measured from the newest record, not from now, so a long downtime
	// does not make the edge forget.
	resendRebuild = 5 * time.Minute
)

// errResent is ingest's answer to a resend of a publish already stored:
// acknowledge it, store nothing.
var errResent = errors.New("resend of a stored message")

// resendID identifies one device publish: the first 16 bytes of the SHA-256
// of the client id, the packet id, the topic and the payload. A resend has
// the same client id, packet id, topic and payload as its original; a new
// message reusing the packet id differs in its payload or topic (or is the
// same data again, see deviceTimed).
type resendID [16]byte

// resendDomain separates these hashes from any other SHA-256 use.
const resendDomain = "molen edge resend v1\x00"

func newResendID(client string, packet uint16, topic string, payload []byte) resendID {
	hs := resendHashers.Get().(*resendHasher)
	defer resendHashers.Put(hs)
	b := append(hs.buf[:0], resendDomain...)
	b = binary.AppendUvarint(b, uint64(len(client)))
	b = append(b, client...)
	b = binary.BigEndian.AppendUint16(b, packet)
	b = binary.AppendUvarint(b, uint64(len(topic)))
	b = append(b, topic...)
	hs.h.Reset()
	hs.h.Write(b)
	hs.h.Write(payload)
	b = hs.h.Sum(b[:0])
	var id resendID
	copy(id[:], b)
	if cap(b) <= 4<<10 {
		hs.buf = b
	}
	return id
}

// resendHasher is the state of one newResendID, pooled: a publish is
// hashed on every device's connection, and the hash must not cost
// allocations on that path.
type resendHasher struct {
	h   hash.Hash
	buf []byte // client id, packet id and topic; then the sum
}

var resendHashers = sync.Pool{New: func() any {
	return &resendHasher{h: sha256.New(), buf: make([]byte, 0, 512)}
}}

// stamped reports whether every point of a message carries a time the
// device (or the peer of an input) sent, so that storing the message again
// would add nothing: pts is the message decoded with receive time recv,
// which stamps the values that carry no time of their own. A message whose
// values take the receive time is never taken for a resend: the same bytes
// under the same packet id may be a new reading of an unchanged value (the
// client had its PUBACK and reused the id), and skipping that would lose
// it. A value whose own time happens to be recv to the nanosecond counts as
// unstamped: the message is stored again, a duplicate rather than a loss.
func stamped(pts []uns.Point, recv int64) bool {
	for _, p := range pts {
		if p.TS == recv {
			return false
		}
	}
	return true
}

// The envelope of an outbox record that carries the identities of the
// device publishes (or an input's messages) its points come from (format
// in doc.go).
const (
	envelopeMark    = 0x00 // an uplink record starts with its version, which is never 0
	envelopeVersion = 1
)

// appendEnvelope appends the envelope of a record of the publishes ids to
// dst; the uplink record follows it.
func appendEnvelope(dst []byte, ids ...resendID) []byte {
	dst = append(dst, envelopeMark)
	dst = binary.AppendUvarint(dst, uint64(1+len(ids)*len(resendID{})))
	dst = append(dst, envelopeVersion)
	for _, id := range ids {
		dst = append(dst, id[:]...)
	}
	return dst
}

// envelopeIDs are the identities of an envelope, 16 bytes each.
type envelopeIDs []byte

// all yields the identities.
func (b envelopeIDs) all() iter.Seq[resendID] {
	return func(yield func(resendID) bool) {
		var id resendID
		for ; len(b) >= len(id); b = b[len(id):] {
			copy(id[:], b)
			if !yield(id) {
				return
			}
		}
	}
}

// openEnvelope splits an outbox record into the identities it carries, if
// any (ok), and the uplink record to send to the hub. Records without an
// envelope (all of them before this format, and those not from a device
// publish or an input's message) are the uplink record itself. An envelope
// of a later version is skipped by its length, its identities ignored.
func openEnvelope(data []byte) (ids envelopeIDs, ok bool, rec []byte, err error) {
	if len(data) == 0 || data[0] != envelopeMark {
		return nil, false, data, nil
	}
	n, k := binary.Uvarint(data[1:])
	if k <= 0 || n > uint64(len(data)-1-k) {
		return nil, false, data, fmt.Errorf("record envelope: bad header length")
	}
	hdr, rec := data[1+k:1+k+int(n)], data[1+k+int(n):]
	if len(hdr) >= 1+len(resendID{}) && hdr[0] == envelopeVersion {
		ids, ok = envelopeIDs(hdr[1:]), true
	}
	return ids, ok, rec, nil
}

// resendTable remembers the identities of the last publishes stored, up to
// a fixed number, oldest forgotten first.
//
// It also knows the publishes on their way to disk (queued for the outbox,
// not yet settled): a device that lost its connection sends its
// unacknowledged publishes again on a new one while the originals may still
// be on their way, and such a resend must wait for its original's outcome.
//
// The identities are kept in a ring, found through an open-addressing
// index of ring positions (linear probing, at most half full): 16 bytes an
// identity plus at most 8 of index, 1.5 MiB for 65,536 identities, where a
// Go map from identity to position took about 4.5 MiB. Ring and index grow
// as publishes come, up to size: an edge with few devices does not hold
// the whole table's memory from its start.
type resendTable struct {
	mu    sync.Mutex // guards everything below
	size  uint64     // identities remembered at most
	ring  []resendID // ring[n%size] is the n-th identity added; grows to size
	n     uint64     // identities added
	index []uint32   // ring position + 1 of an identity's newest slot; 0 empty; len a power of two
	count int        // identities in index
	// pending are the publishes on their way to disk.
	pending map[resendID]*outbox.Pending
}

func newResendTable(size int) *resendTable {
	return &resendTable{size: uint64(size), pending: map[resendID]*outbox.Pending{}}
}

// home is id's first place in an index of mask+1 entries. Identities are
// hashes: their first bytes are spread evenly already.
func home(id resendID, mask int) int {
	return int(binary.LittleEndian.Uint64(id[:8])) & mask
}

// find returns the index entry of id, or -1.
func (t *resendTable) find(id resendID) int {
	if len(t.index) == 0 {
		return -1
	}
	mask := len(t.index) - 1
	for i := home(id, mask); ; i = (i + 1) & mask {
		e := t.index[i]
		if e == 0 {
			return -1
		}
		if t.ring[e-1] == id {
			return i
		}
	}
}

// put sets id's entry to ring position pos, growing the index to keep it
// at most half full.
func (t *resendTable) put(id resendID, pos uint32) {
	if i := t.find(id); i >= 0 {
		t.index[i] = pos + 1
		return
	}
	if 2*(t.count+1) > len(t.index) {
		t.grow()
	}
	mask := len(t.index) - 1
	i := home(id, mask)
	for t.index[i] != 0 {
		i = (i + 1) & mask
	}
	t.index[i] = pos + 1
	t.count++
}

func (t *resendTable) grow() {
	old := t.index
	t.index = make([]uint32, max(64, 2*len(old)))
	mask := len(t.index) - 1
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := home(t.ring[e-1], mask)
		for t.index[i] != 0 {
			i = (i + 1) & mask
		}
		t.index[i] = e
	}
}

// remove empties entry i and moves the entries after it that can no
// longer be reached past the gap (backward-shift deletion).
func (t *resendTable) remove(i int) {
	mask := len(t.index) - 1
	for j := (i + 1) & mask; t.index[j] != 0; j = (j + 1) & mask {
		k := home(t.ring[t.index[j]-1], mask)
		// The entry at j stays if its home lies cyclically in (i, j].
		if i <= j && i < k && k <= j || i > j && (i < k || k <= j) {
			continue
		}
		t.index[i] = t.index[j]
		i = j
	}
	t.index[i] = 0
	t.count--
}

// queued says that the publishes ids are on their way to disk in p.
func (t *resendTable) queued(p *outbox.Pending, ids ...resendID) {
	if len(ids) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		t.pending[id] = p
	}
}

// settled says that the publishes ids are stored (and then added) or
// refused: no longer on their way.
func (t *resendTable) settled(p *outbox.Pending, ids ...resendID) {
	if len(ids) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		if t.pending[id] == p {
			delete(t.pending, id)
		}
	}
}

// stored reports whether the publish id is stored, waiting for its
// original's outcome if that is still on its way to disk.
func (t *resendTable) stored(id resendID) bool {
	t.mu.Lock()
	ok := t.find(id) >= 0
	p := t.pending[id]
	t.mu.Unlock()
	if ok || p == nil {
		return ok
	}
	<-p.Done()
	_, err := p.Result()
	return err == nil
}

// add remembers ids, forgetting the oldest identities if the table is full.
func (t *resendTable) add(ids ...resendID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	size := t.size
	for _, id := range ids {
		slot := t.n % size
		if t.n >= size {
			// The slot's identity goes, unless it was added again since
			// (its entry then names a newer slot).
			if i := t.find(t.ring[slot]); i >= 0 && uint64(t.index[i]-1) == slot {
				t.remove(i)
			}
			t.ring[slot] = id
		} else {
			t.ring = append(t.ring, id) // slot == len(t.ring)
		}
		t.put(id, uint32(slot))
		t.n++
	}
}

// has reports whether id is remembered.
func (t *resendTable) has(id resendID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.find(id) >= 0
}

// len is the number of identities remembered.
func (t *resendTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count
}

// rebuildResends remembers the publishes stored in the records of the last
// resendRebuild before the newest record in the outbox, acknowledged ones
// included, so that a device's resend of a message whose PUBACK the
// previous run never sent is recognised. It runs in Start before devices
// can connect and before the forwarder runs (acknowledgements delete
// segments).
func (e *Edge) rebuildResends() error {
	last := e.outbox.Stats().LastAppend
	if last.IsZero() {
		return nil
	}
	return e.outbox.Scan(last.Add(-resendRebuild), func(en outbox.Entry) error {
		if ids, ok, _, err := openEnvelope(en.Data); err == nil && ok {
			for id := range ids.all() {
				e.resends.add(id)
			}
		}
		return nil
	})
}
