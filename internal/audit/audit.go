package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/molen-io/molen/internal/meta"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the domain's tables: audit and audit_heads.
var Migrations = meta.Migrations{Domain: "audit", FS: meta.Dir(migrations, "migrations")}

// Entry is one line of an organisation's audit log.
type Entry struct {
	Org string    `json:"org"` // whose log
	Seq int64     `json:"seq"` // its place in the chain, from 1
	At  time.Time `json:"at"`
	// Actor is who did it: a user ID (usr_…), an API token ID (tok_…), an
	// edge ID, or "system"; "" when nobody could be identified (a failed
	// sign-in with an unknown name).
	Actor string `json:"actor"`
	// ActorOrg is the actor's own organisation when it is not Org: a
	// person acting for a company by its consent, or reading under a
	// grant.
	ActorOrg string            `json:"actor_org,omitempty"`
	Action   string            `json:"action"` // "member.added", "token.revoked", "login.failed", …
	Target   string            `json:"target,omitempty"`
	Detail   map[string]string `json:"detail,omitempty"`
	Addr     string            `json:"addr,omitempty"` // the client's address
	Hash     string            `json:"hash"`
}

// Sum is the entry's hash given the previous entry's hash ("" for the
// first): hex SHA-256 of prev, a newline, and the JSON of the entry
// without its hash, fields in the order of Entry, time as unix ns and the
// detail's keys sorted.
func (e Entry) Sum(prev string) string {
	b, _ := json.Marshal(struct {
		Org      string            `json:"org"`
		Seq      int64             `json:"seq"`
		At       int64             `json:"at"`
		Actor    string            `json:"actor"`
		ActorOrg string            `json:"actor_org"`
		Action   string            `json:"action"`
		Target   string            `json:"target"`
		Detail   map[string]string `json:"detail"`
		Addr     string            `json:"addr"`
	}{e.Org, e.Seq, meta.Nanos(e.At), e.Actor, e.ActorOrg, e.Action, e.Target, e.Detail, e.Addr})
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// Log is the audit log.
type Log struct {
	db  *meta.DB
	now func() time.Time
	log *slog.Logger
}

// New returns the log on db, migrating its tables. now is the clock (nil:
// time.Now); log gets the entries that could not be recorded (nil:
// discard).
func New(ctx context.Context, db *meta.DB, now func() time.Time, log *slog.Logger) (*Log, error) {
	if err := db.Migrate(ctx, Migrations); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Log{db: db, now: now, log: log}, nil
}

// Record appends e to the log of e.Org in a transaction of its own and
// returns it as stored. e.At defaults to now; Seq and Hash are set.
func (l *Log) Record(ctx context.Context, e Entry) (Entry, error) {
	err := l.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = l.RecordTx(ctx, tx, e)
		return err
	})
	return e, err
}

// RecordTx appends e inside tx, a transaction on the log's database, so
// that a change and its entry commit together. The chain's head row is
// locked until tx ends: appends to one organisation's log queue, so a
// transaction should append to several logs in the order of their IDs.
func (l *Log) RecordTx(ctx context.Context, tx *sql.Tx, e Entry) (Entry, error) {
	if e.At.IsZero() {
		e.At = l.now()
	}
	e.At = e.At.UTC()
	fields := []string{e.Org, e.Actor, e.ActorOrg, e.Action, e.Target, e.Addr}
	for k, v := range e.Detail {
		fields = append(fields, k, v)
	}
	if err := meta.CheckText(fields...); err != nil {
		return Entry{}, fmt.Errorf("audit %s: %w", e.Action, err)
	}
	if e.Action == "" {
		return Entry{}, fmt.Errorf("audit: %w: no action", meta.ErrInvalid)
	}
	detail := ""
	if len(e.Detail) > 0 {
		b, _ := json.Marshal(e.Detail)
		detail = string(b)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_heads (org, seq, hash) VALUES ($1, 0, '') ON CONFLICT (org) DO NOTHING`, e.Org); err != nil {
		return Entry{}, fmt.Errorf("audit %s: head: %w", e.Action, err)
	}
	var prev string
	if err := tx.QueryRowContext(ctx, `UPDATE audit_heads SET seq = seq + 1 WHERE org = $1 RETURNING seq, hash`, e.Org).Scan(&e.Seq, &prev); err != nil {
		return Entry{}, fmt.Errorf("audit %s: head: %w", e.Action, err)
	}
	e.Hash = e.Sum(prev)
	if _, err := tx.ExecContext(ctx, `UPDATE audit_heads SET hash = $2 WHERE org = $1`, e.Org, e.Hash); err != nil {
		return Entry{}, fmt.Errorf("audit %s: head: %w", e.Action, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit (org, seq, at, actor, actor_org, action, target, detail, addr, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.Org, e.Seq, meta.Nanos(e.At), e.Actor, e.ActorOrg, e.Action, e.Target, detail, e.Addr, e.Hash); err != nil {
		return Entry{}, fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return e, nil
}

// Query selects entries of one organisation's log.
type Query struct {
	From, To time.Time // [From, To); zero: unbounded
	Action   string    // an action, or a prefix ending in "." ("member.")
	Actor    string
	Before   int64 // only entries with a lower seq (paging); 0: all
	Limit    int   // at most this many, newest first; 0: 1000
}

const entryColumns = `org, seq, at, actor, actor_org, action, target, detail, addr, hash`

func scanEntry(rows *sql.Rows) (Entry, error) {
	var e Entry
	var at int64
	var detail string
	if err := rows.Scan(&e.Org, &e.Seq, &at, &e.Actor, &e.ActorOrg, &e.Action, &e.Target, &detail, &e.Addr, &e.Hash); err != nil {
		return Entry{}, err
	}
	e.At = meta.Time(at)
	if detail != "" {
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			return Entry{}, fmt.Errorf("entry %d: detail: %w", e.Seq, err)
		}
	}
	return e, nil
}

// List returns entries of org's log matching q, newest first.
func (l *Log) List(ctx context.Context, org string, q Query) ([]Entry, error) {
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	if err := meta.CheckText(org, q.Action, q.Actor); err != nil {
		return nil, nil
	}
	where := []string{"org = $1"}
	args := []any{org}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if !q.From.IsZero() {
		add("at >= $%d", meta.Nanos(q.From))
	}
	if !q.To.IsZero() {
		add("at < $%d", meta.Nanos(q.To))
	}
	if q.Before > 0 {
		add("seq < $%d", q.Before)
	}
	if q.Actor != "" {
		add("actor = $%d", q.Actor)
	}
	if q.Action != "" {
		if strings.HasSuffix(q.Action, ".") {
			add("substr(action, 1, length($%[1]d)) = $%[1]d", q.Action)
		} else {
			add("action = $%d", q.Action)
		}
	}
	args = append(args, q.Limit)
	rows, err := l.db.QueryContext(ctx, `SELECT `+entryColumns+` FROM audit WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(` ORDER BY seq DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("audit log of %s: %w", org, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("audit log of %s: %w", org, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit log of %s: %w", org, err)
	}
	return out, nil
}

// ByActor returns the entries of every log whose actor is actor, newest
// first (a person's own record, for their data export).
func (l *Log) ByActor(ctx context.Context, actor string, limit int) ([]Entry, error) {
	if !meta.Text(actor) || actor == "" {
		return nil, nil
	}
	rows, err := l.db.QueryContext(ctx, `SELECT `+entryColumns+` FROM audit WHERE actor = $1 ORDER BY at DESC LIMIT $2`, actor, limit)
	if err != nil {
		return nil, fmt.Errorf("audit entries of %s: %w", actor, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("audit entries of %s: %w", actor, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Each calls fn with every entry of org's log in chain order, reading a
// page at a time.
func (l *Log) Each(ctx context.Context, org string, fn func(Entry) error) error {
	var after int64
	for {
		rows, err := l.db.QueryContext(ctx, `SELECT `+entryColumns+` FROM audit WHERE org = $1 AND seq > $2 ORDER BY seq LIMIT 1000`, org, after)
		if err != nil {
			return fmt.Errorf("audit log of %s: %w", org, err)
		}
		var page []Entry
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("audit log of %s: %w", org, err)
			}
			page = append(page, e)
		}
		err = errors.Join(rows.Err(), rows.Close())
		if err != nil {
			return fmt.Errorf("audit log of %s: %w", org, err)
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < 1000 {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

// Report is what Verify found in one organisation's log.
type Report struct {
	Org     string `json:"org"`
	Entries int64  `json:"entries"`
	Head    string `json:"head"` // the last entry's hash: keep it to detect a later truncation
	OK      bool   `json:"ok"`
	// Problem says where the chain breaks: the first entry whose hash or
	// place does not fit.
	Problem string `json:"problem,omitempty"`
}

// Verify walks org's chain and checks each entry's place and hash, and the
// head. A changed entry fails its hash; an inserted or removed one breaks
// the sequence or the next entry's hash; removed last entries leave the
// head beyond them. Removing the last entries and rewriting the head as
// well is found only against a head kept elsewhere (Report.Head).
func (l *Log) Verify(ctx context.Context, org string) (Report, error) {
	rep := Report{Org: org, OK: true}
	prev := ""
	fail := func(format string, args ...any) {
		if rep.OK {
			rep.OK, rep.Problem = false, fmt.Sprintf(format, args...)
		}
	}
	err := l.Each(ctx, org, func(e Entry) error {
		rep.Entries++
		if e.Seq != rep.Entries {
			fail("entry %d follows entry %d: entries %d to %d are missing", e.Seq, rep.Entries-1, rep.Entries, e.Seq-1)
			rep.Entries = e.Seq
		}
		if e.Sum(prev) != e.Hash {
			fail("entry %d (%s at %s) does not match its hash: it, or an entry before it, was changed", e.Seq, e.Action, e.At.Format(time.RFC3339))
		}
		prev = e.Hash
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	var headSeq int64
	var headHash string
	err = meta.Found(l.db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_heads WHERE org = $1`, org).Scan(&headSeq, &headHash))
	switch {
	case errors.Is(err, meta.ErrNotFound):
		if rep.Entries > 0 {
			fail("the log has %d entries but no head", rep.Entries)
		}
	case err != nil:
		return Report{}, fmt.Errorf("audit head of %s: %w", org, err)
	case headSeq != rep.Entries:
		fail("the head is at entry %d but the last entry is %d: entries %d to %d were removed", headSeq, rep.Entries, rep.Entries+1, headSeq)
	case headHash != prev:
		fail("the head's hash does not match the last entry %d", rep.Entries)
	}
	rep.Head = prev
	return rep, nil
}

// Orgs lists the organisations that have a log, by ID.
func (l *Log) Orgs(ctx context.Context) ([]string, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT org FROM audit_heads UNION SELECT DISTINCT org FROM audit`)
	if err != nil {
		return nil, fmt.Errorf("audit logs: %w", err)
	}
	defer rows.Close()
	set := map[string]bool{}
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, fmt.Errorf("audit logs: %w", err)
		}
		set[o] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit logs: %w", err)
	}
	return slices.Sorted(maps.Keys(set)), nil
}

// VerifyAll verifies every organisation's log.
func (l *Log) VerifyAll(ctx context.Context) ([]Report, error) {
	orgs, err := l.Orgs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Report, 0, len(orgs))
	for _, o := range orgs {
		r, err := l.Verify(ctx, o)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Recorder is how other domains record audit entries: a *Log, or a fake
// in their tests. Record appends the entry to its organisation's chain.
type Recorder interface {
	Record(ctx context.Context, e Entry) (Entry, error)
}
