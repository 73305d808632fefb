package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/molen-io/molen/internal/backoff"
	"github.com/molen-io/molen/internal/outbox"
	"github.com/molen-io/molen/internal/secret"
	"github.com/molen-io/molen/internal/uplink"
)

// Forwarding limits: a batch holds at most this much of the outbox. 8,000
// device messages of ~110 bytes fill most of the 1 MiB; a backlog of them
// drains at 250–400k points/s against 175–210k with batches of 2,000
// (internal/faults TestFaultsCatchUp). The byte bound keeps a batch
// within what a slow link carries before the client gives up.
const (
	batchRecords = 8000
	batchBytes   = 1 << 20
)

// forwardLinger is how long forwarding waits after sending a batch that
// was not full before it reads the next one, so that a trickle of device
// data goes in a few batches a second instead of one per message: each
// batch costs a signature, an HTTP round trip and an fsync of the outbox's
// cursor, which at 500 messages/s was most of the edge's CPU (ADR 0012).
// It adds at most this much to the time data takes to reach the hub; a
// backlog (full batches) goes without waiting.
const forwardLinger = 50 * time.Millisecond

// A trickle (a batch of fewer than trickleRecords records) lingers
// trickleLinger instead: at 500 messages/s a forwarding request every 50 ms
// was 42 % of the edge's CPU, most of it the outbox's cursor written and
// fsynced once per batch. It adds at most this much to a trickle's way to
// the hub; busier links keep forwardLinger.
const (
	trickleRecords = 200
	trickleLinger  = 250 * time.Millisecond
)

// Retry delays. The cap is short on purpose: after an outage the edge must
// be back within seconds, not after minutes of exponential back-off.
const (
	retryMin          = 200 * time.Millisecond
	retryMax          = 5 * time.Second
	unauthorizedRetry = 30 * time.Second
)

// forwardState is what the status API shows about the link to the hub.
type forwardState struct {
	mu           sync.Mutex // guards every field
	lastContact  time.Time
	lastError    string
	lastErrorAt  time.Time
	unauthorized bool
	enrolled     bool
	identity     credential // secrets blanked (credential.public)
}

func (s *forwardState) ok(now time.Time) {
	s.mu.Lock()
	s.lastContact, s.lastError, s.unauthorized = now, "", false
	s.mu.Unlock()
}

func (s *forwardState) fail(now time.Time, err error) {
	s.mu.Lock()
	s.lastError, s.lastErrorAt = err.Error(), now
	s.unauthorized = errors.Is(err, uplink.ErrUnauthorized)
	s.mu.Unlock()
}

// forward runs until ctx ends: enroll if needed, then send the outbox to the
// hub in order, acknowledging records in the outbox only after the hub
// stored them.
func (e *Edge) forward(ctx context.Context) error {
	cred, err := e.ensureEnrolled(ctx)
	if ctx.Err() != nil {
		return nil // stopped while enrolling
	}
	if err != nil {
		e.fwd.fail(time.Now(), err)
		e.log.Error("forwarding stopped; device data stays buffered", "err", err)
		return err
	}
	e.keyMu.Lock()
	e.useIdentity(cred)
	e.keyMu.Unlock()
	client := &uplink.Client{URL: cred.Hub, Credential: cred.Credential, HTTP: e.http, Signer: e.signer.Load}
	e.ensureKey(ctx, cred.Hub)
	stream := "points/" + e.outbox.ID()
	next := e.outbox.Acked() + 1
	retry := backoff.New(retryMin, retryMax)
	for {
		entries, err := e.outbox.Read(next, batchRecords, batchBytes)
		if errors.Is(err, outbox.ErrClosed) {
			return nil
		}
		// probe: a full buffer dropped records that a batch which did not
		// get through held. Before anything else goes, a batch without
		// records asks the hub how far it has stored: that says which of
		// them it has, so the drop counter stays exact (outbox.Delivered).
		probe := errors.Is(err, outbox.ErrWatermarkNeeded)
		if err != nil && !probe {
			// A damaged record found while running: keep ingesting, keep
			// trying (the next start quarantines it), and say so.
			e.fwd.fail(time.Now(), err)
			e.metrics.forwardErrors.WithLabelValues("outbox").Inc()
			e.log.Error("cannot read the outbox; forwarding paused (restarting the edge quarantines damaged data)", "err", err)
			if !backoff.Sleep(ctx, retryMax) {
				return nil
			}
			continue
		}
		if len(entries) == 0 && !probe {
			if err := e.outbox.Wait(ctx, next-1); err != nil {
				return nil
			}
			continue
		}
		b := uplink.Batch{Stream: stream, Records: make([]uplink.RawRecord, len(entries))}
		points := 0
		for i, en := range entries {
			// The identity of a device publish stays here: the hub gets the
			// uplink record alone. A damaged envelope (which the checksum
			// would have caught) goes as it is: the hub refuses it and it is
			// kept in the dead-letter directory.
			_, _, data, _ := openEnvelope(en.Data)
			b.Records[i] = uplink.RawRecord{Seq: en.Seq, Data: data}
			points += en.Weight
		}
		start := time.Now()
		signer := e.signer.Load()
		ack, err := client.Send(ctx, b)
		if ctx.Err() != nil {
			return nil
		}
		if refused(err) && !probe {
			// The hub refuses the data itself: resending the batch would
			// block everything behind it. Find the refused records, keep
			// them in the dead-letter directory, and go on.
			err = e.isolate(ctx, client, b)
		}
		if err != nil {
			e.fwd.fail(time.Now(), err)
			var wait time.Duration
			if errors.Is(err, uplink.ErrUnauthorized) {
				e.metrics.forwardErrors.WithLabelValues("unauthorized").Inc()
				if e.signer.Load() != signer {
					// The key changed while the batch was on its way (an
					// edge with a credential moved to a key): send it again
					// with the new one.
					continue
				}
				if c, ok := e.reenroll(ctx, cred); ok {
					cred, client.Credential = c, c.Credential
					continue
				}
				if e.confirmKey(ctx, cred.Hub) {
					continue // a key change whose answer was lost
				}
				e.log.Error("hub refuses this edge's credential; data stays buffered until the edge is enrolled again",
					"hub", cred.Hub, "edge_id", cred.EdgeID, "err", err, "retry_in", unauthorizedRetry)
				wait = unauthorizedRetry
			} else if misconfigured(err) {
				e.metrics.forwardErrors.WithLabelValues("refused_batch").Inc()
				e.log.Error("hub (or a proxy before it) refuses the batch as a whole; data stays buffered: check versions and proxy body limits",
					"hub", cred.Hub, "err", err, "retry_in", unauthorizedRetry)
				wait = unauthorizedRetry
			} else {
				e.metrics.forwardErrors.WithLabelValues("send").Inc()
				wait = retry.Next()
				e.log.Warn("forward to hub failed; retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
			}
			if !backoff.Sleep(ctx, wait) {
				return nil
			}
			continue
		}
		if retry.Reset() {
			e.log.Info("forwarding to hub resumed")
		}
		e.fwd.ok(time.Now())
		e.ensureKey(ctx, cred.Hub)
		if probe {
			e.outbox.Delivered(ack.Previous, 0, 0)
			continue
		}
		// Counted as forwarded before the outbox lets go of the records, so
		// that the status never shows them neither pending nor forwarded.
		e.metrics.forwardedRecords.Add(float64(len(entries)))
		e.metrics.forwardedPoints.Add(float64(points))
		e.fwdRate.add(time.Now(), len(entries), points)
		e.metrics.forwardSeconds.Observe(time.Since(start).Seconds())
		if ack.RefusedSeries+ack.RefusedPoints > 0 {
			// Stored without them: sending them again would be refused
			// again, so they are dropped and counted.
			e.metrics.quotaRefused.WithLabelValues("series").Add(float64(ack.RefusedSeries))
			e.metrics.quotaRefused.WithLabelValues("points_per_day").Add(float64(ack.RefusedPoints))
			e.log.Warn("the hub's quota for this organisation refused points", "series", ack.RefusedSeries, "points_per_day", ack.RefusedPoints)
		}
		last := entries[len(entries)-1].Seq
		// Records a full buffer dropped while this batch held them: the
		// batch and the hub's watermark before it say which of them the
		// hub has, so the drop counter stays exact.
		e.outbox.Delivered(ack.Previous, entries[0].Seq, last)
		if err := e.outbox.Ack(last); err != nil {
			// The hub has the records; failing to note it only means they
			// are sent again (and skipped by the hub) after a restart. Go
			// on with the next batch: its Ack frees the segments both
			// batches leave behind, which on a full disk is what lets the
			// acknowledgement be written at all.
			e.fwd.fail(time.Now(), err)
			e.log.Error("cannot record the hub's acknowledgement in the outbox; going on, the next acknowledgement records it", "seq", last, "err", err)
		}
		next = last + 1
		if len(entries) < batchRecords/2 && !backoff.Sleep(ctx, lingerAfter(len(entries))) {
			return nil
		}
	}
}

// lingerAfter is how long forwarding waits after a batch of n records that
// was not full.
func lingerAfter(n int) time.Duration {
	if n < trickleRecords {
		return trickleLinger
	}
	return forwardLinger
}

// ensureEnrolled returns the stored credential, or enrolls with the token
// from the config, retrying until the hub answers.
func (e *Edge) ensureEnrolled(ctx context.Context) (credential, error) {
	c, ok, err := loadCredential(e.cfg.DataDir)
	if err != nil {
		return credential{}, err // Start checked the file; it changed under us
	}
	if ok && !c.Pending {
		if e.cfg.HubURL != "" && e.cfg.HubURL != c.Hub {
			// The hub may have moved; the flag wins. Say so: the credential
			// goes to the new address.
			e.log.Warn("hub address differs from the one this edge enrolled at; using the new one", "enrolled_at", c.Hub, "hub", e.cfg.HubURL)
			c.Hub = e.cfg.HubURL
		}
		return c, nil
	}
	if e.cfg.EnrollToken == "" {
		err := errors.New("edge is not enrolled: start it once with --enroll-token (create one on the hub with POST /api/v1/edges)")
		if ok {
			err = errors.New("enrollment was interrupted: start the edge again with the same --enroll-token")
		}
		e.fwd.fail(time.Now(), err)
		e.log.Error("not enrolled; buffering device data locally until enrolled", "err", err)
		<-ctx.Done()
		return credential{}, ctx.Err()
	}
	e.tokenTried = true
	return e.enroll(ctx, e.cfg.HubURL, c, true)
}

// enroll exchanges the configured token for the edge's identity at the
// hub: it makes its own key pair and registers the public key. The key is
// stored (marked pending) before the hub is asked, so an answer lost on
// the way costs nothing: the next attempt, even after a restart, proposes
// the same key with the same token, and the hub answers with the same
// enrollment. With retry it keeps trying until ctx ends; otherwise one
// failure is returned.
func (e *Edge) enroll(ctx context.Context, hub string, c credential, retry bool) (credential, error) {
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	tokenHash := secret.Hash(e.cfg.EnrollToken)
	if !c.Pending || c.TokenHash != tokenHash || c.Key == "" {
		// A key is proposed with one token only: reusing it with another
		// could register it twice.
		c = credential{Hub: hub, Key: newKeyText(), Pending: true, TokenHash: tokenHash, ReleaseKeys: c.ReleaseKeys, MarketKeys: c.MarketKeys}
		if err := saveCredential(e.cfg.DataDir, c); err != nil {
			return credential{}, fmt.Errorf("store the proposed key before enrolling: %w", err)
		}
	}
	key, err := parseKey(c.Key)
	if err != nil {
		return credential{}, err // checked by loadCredential
	}
	client := &uplink.Client{URL: hub, HTTP: e.http}
	delays := backoff.New(retryMin, retryMax)
	for {
		en, err := client.EnrollKey(ctx, e.cfg.EnrollToken, key)
		if err == nil {
			// A hub from before edge keys ignores the key and issues a
			// credential: keep both; the edge registers its key when the
			// hub knows how.
			pinned, market := c.ReleaseKeys, c.MarketKeys
			if len(pinned) == 0 {
				pinned = validKeys(en.ReleaseKeys)
			}
			if len(market) == 0 {
				market = validKeys(en.MarketKeys)
			}
			c = credential{Hub: hub, EdgeID: en.EdgeID, Org: en.Org, Name: en.Name, Credential: en.Credential, Key: c.Key, ReleaseKeys: pinned, MarketKeys: market}
			if en.Credential != "" {
				c.PendingKey, c.Key = c.Key, ""
			}
			if err := saveCredential(e.cfg.DataDir, c); err != nil {
				// The pending file holds the same credential: the next
				// start completes the enrollment again with the same token.
				e.fwd.fail(time.Now(), err)
				e.log.Error("enrolled, but cannot mark the stored credential complete", "err", err)
			}
			e.log.Info("enrolled at hub", "hub", c.Hub, "edge_id", c.EdgeID, "org", c.Org)
			e.useIdentity(c)
			return c, nil
		}
		if ctx.Err() != nil {
			return credential{}, ctx.Err()
		}
		e.fwd.fail(time.Now(), err)
		if !retry {
			return credential{}, err
		}
		wait := unauthorizedRetry
		if errors.Is(err, uplink.ErrUnauthorized) {
			e.log.Error("hub refused the enrollment token (used, expired or wrong); create a new one", "err", err)
		} else {
			wait = delays.Next()
			e.log.Warn("enrollment failed; retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
		}
		if !backoff.Sleep(ctx, wait) {
			return credential{}, ctx.Err()
		}
	}
}

// useIdentity makes c the edge's identity: its key signs the next
// request, and the status shows it. keyMu must be held.
func (e *Edge) useIdentity(c credential) {
	e.signer.Store(c.signer())
	e.keyWanted.Store(c.Key == "" || c.PendingKey != "")
	e.fwd.mu.Lock()
	e.fwd.identity, e.fwd.enrolled = c.public(), true
	e.fwd.mu.Unlock()
}

// reenroll handles a refused credential when the edge was started with an
// enrollment token: the operator revoked or re-created this edge and gave it
// a new token, so enroll with it (once) and keep forwarding the buffered
// data under the new identity.
func (e *Edge) reenroll(ctx context.Context, old credential) (credential, bool) {
	if e.cfg.EnrollToken == "" || e.tokenTried {
		return credential{}, false
	}
	e.tokenTried = true
	hub := e.cfg.HubURL
	if hub == "" {
		hub = old.Hub
	}
	c, err := e.enroll(ctx, hub, old, false)
	if err != nil {
		e.log.Error("re-enrollment with the given token failed", "err", err)
		return credential{}, false
	}
	return c, true
}

// refused reports whether the hub refused the records themselves (422):
// sending them again cannot succeed. Other refusals (400 for a batch it
// cannot read, 413 from the hub or a proxy) say nothing about the records;
// they are retried like any failure, and the data stays in the outbox.
func refused(err error) bool {
	se, ok := errors.AsType[*uplink.StatusError](err)
	return ok && se.Code == http.StatusUnprocessableEntity
}

// misconfigured reports whether the hub or a proxy refused the batch as a
// whole (400, 413): a version or proxy problem an operator must fix.
func misconfigured(err error) bool {
	se, ok := errors.AsType[*uplink.StatusError](err)
	return ok && (se.Code == http.StatusBadRequest || se.Code == http.StatusRequestEntityTooLarge)
}

// isolate sends the records of a refused batch one by one. Records the hub
// refuses go to the dead-letter directory and are counted; the others are
// stored as usual. It returns nil once every record is either stored or
// dead-lettered, so the caller can acknowledge the whole batch.
func (e *Edge) isolate(ctx context.Context, client *uplink.Client, b uplink.Batch) error {
	for _, r := range b.Records {
		_, err := client.Send(ctx, uplink.Batch{Stream: b.Stream, Records: []uplink.RawRecord{r}})
		if err == nil {
			continue
		}
		if !refused(err) {
			return err
		}
		if err := e.deadLetter(b.Stream, r, err); err != nil {
			return err
		}
	}
	return nil
}

// deadLetter writes a refused record to <data>/deadletter/ as JSON, with the
// hub's reason and the points it held, for an operator to inspect.
func (e *Edge) deadLetter(stream string, r uplink.RawRecord, reason error) error {
	dir := filepath.Join(e.cfg.DataDir, "deadletter")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("dead-letter record %d: %w", r.Seq, err)
	}
	doc := struct {
		Stream string          `json:"stream"`
		Seq    uint64          `json:"seq"`
		Time   time.Time       `json:"time"`
		Reason string          `json:"reason"`
		Points []deadPointJSON `json:"points,omitempty"`
		Events []EventJSON     `json:"events,omitempty"`
		Data   []byte          `json:"data,omitempty"` // the raw record, when it does not decode
	}{Stream: stream, Seq: r.Seq, Time: time.Now().UTC(), Reason: reason.Error()}
	pts, evs, err := uplink.DecodeRecord(nil, nil, r.Data)
	if err != nil {
		doc.Data = r.Data
	}
	for _, ev := range evs {
		doc.Events = append(doc.Events, EventJSON{Asset: ev.Asset, Kind: ev.Kind, Start: ev.Start / 1e6, End: ev.End / 1e6, Attrs: ev.Attrs})
	}
	for _, p := range pts {
		doc.Points = append(doc.Points, deadPointJSON{Series: p.Series, TS: p.TS, Value: p.Value.Any(), Q: p.Quality.String()})
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("dead-letter record %d: %w", r.Seq, err)
	}
	name := filepath.Join(dir, fmt.Sprintf("%s-%020d.json", strings.ReplaceAll(stream, "/", "_"), r.Seq))
	if err := os.WriteFile(name, b, 0o600); err != nil {
		return fmt.Errorf("dead-letter record %d: %w", r.Seq, err)
	}
	e.metrics.deadRecords.Inc()
	e.metrics.deadPoints.Add(float64(len(pts)))
	e.log.Error("hub refused a record; kept in the dead-letter directory", "seq", r.Seq, "file", name, "reason", reason)
	return nil
}

type deadPointJSON struct {
	Series string `json:"series"`
	TS     int64  `json:"ts_ns"`
	Value  any    `json:"value"`
	Q      string `json:"q"`
}
