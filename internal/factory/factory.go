package factory

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the domain's tables: reasons and alarm notes.
var Migrations = meta.Migrations{Domain: "factory", FS: meta.Dir(migrations, "migrations")}

// Reason is a downtime reason an organisation offers its people.
type Reason struct {
	Code    string            `json:"code"`
	Label   map[string]string `json:"label"` // language ("en", "nl") → label
	Planned bool              `json:"planned"`
}

// DefaultReasons are the reasons of an organisation that has set none.
var DefaultReasons = []Reason{
	{"material_shortage", map[string]string{"en": "Material shortage", "nl": "Materiaaltekort"}, false},
	{"changeover", map[string]string{"en": "Changeover", "nl": "Omstellen"}, true},
	{"breakdown_mechanical", map[string]string{"en": "Breakdown, mechanical", "nl": "Storing, mechanisch"}, false},
	{"breakdown_electrical", map[string]string{"en": "Breakdown, electrical", "nl": "Storing, elektrisch"}, false},
	{"no_operator", map[string]string{"en": "No operator", "nl": "Geen operator"}, false},
	{"quality_check", map[string]string{"en": "Quality check", "nl": "Kwaliteitscontrole"}, true},
	{"planned_maintenance", map[string]string{"en": "Planned maintenance", "nl": "Gepland onderhoud"}, true},
	{"cleaning", map[string]string{"en": "Cleaning", "nl": "Schoonmaken"}, true},
	{"waiting_upstream", map[string]string{"en": "Waiting for upstream", "nl": "Wachten op voorgaand proces"}, false},
	{"other", map[string]string{"en": "Other", "nl": "Overig"}, false},
}

// Limits of a reason list.
const (
	MaxReasons  = 100
	MaxLabelLen = 100
	MaxComment  = 1000
)

var (
	codeRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	langRe = regexp.MustCompile(`^[a-z]{2}(-[A-Z]{2})?$`)
)

// ValidateReasons checks a list: 1..MaxReasons reasons, codes of a-z 0-9 _ -
// and unique, each with an English label, labels of 1..MaxLabelLen bytes
// keyed by language ("nl", "en-GB"). Errors wrap meta.ErrInvalid and name
// the place.
func ValidateReasons(rs []Reason) error {
	if len(rs) == 0 || len(rs) > MaxReasons {
		return fmt.Errorf("%w: reasons: want 1..%d, got %d", meta.ErrInvalid, MaxReasons, len(rs))
	}
	seen := map[string]bool{}
	for i, r := range rs {
		switch {
		case !codeRe.MatchString(r.Code):
			return fmt.Errorf("%w: reasons[%d].code: %q: want 1..64 of a-z 0-9 _ -", meta.ErrInvalid, i, r.Code)
		case seen[r.Code]:
			return fmt.Errorf("%w: reasons[%d].code: %q comes twice", meta.ErrInvalid, i, r.Code)
		case r.Label["en"] == "":
			return fmt.Errorf("%w: reasons[%d].label: want at least an English label (\"en\")", meta.ErrInvalid, i)
		}
		seen[r.Code] = true
		for lang, l := range r.Label {
			if !langRe.MatchString(lang) || l == "" || len(l) > MaxLabelLen || meta.CheckText(l) != nil {
				return fmt.Errorf("%w: reasons[%d].label[%q]: want a language like nl or en-GB and 1..%d bytes of text", meta.ErrInvalid, i, lang, MaxLabelLen)
			}
		}
	}
	return nil
}

// Store is the event storage the domain reads and annotates.
type Store interface {
	store.Events
}

// Config configures the Service.
type Config struct {
	DB    *meta.DB
	Store Store
	Audit *audit.Log
	Now   func() time.Time // default time.Now
}

// Service keeps reasons and alarm notes and assigns reasons to events.
type Service struct {
	db    *meta.DB
	st    Store
	audit *audit.Log
	now   func() time.Time
}

// New returns the service, migrating its tables.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.DB.Migrate(ctx, Migrations); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: cfg.DB, st: cfg.Store, audit: cfg.Audit, now: cfg.Now}, nil
}

// Reasons returns org's reasons: the ones it set, or DefaultReasons.
func (s *Service) Reasons(ctx context.Context, org string) ([]Reason, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM factory_reason_lists WHERE org = $1`, org).Scan(&n); err != nil {
		return nil, fmt.Errorf("reasons of %s: %w", org, err)
	}
	if n == 0 {
		return DefaultReasons, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT code, labels, planned FROM factory_reasons WHERE org = $1 ORDER BY pos`, org)
	if err != nil {
		return nil, fmt.Errorf("reasons of %s: %w", org, err)
	}
	defer rows.Close()
	var out []Reason
	for rows.Next() {
		var r Reason
		var labels string
		var planned int64
		if err := rows.Scan(&r.Code, &labels, &planned); err != nil {
			return nil, fmt.Errorf("reasons of %s: %w", org, err)
		}
		if err := json.Unmarshal([]byte(labels), &r.Label); err != nil {
			return nil, fmt.Errorf("reasons of %s: %s: %w", org, r.Code, err)
		}
		r.Planned = planned != 0
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetReasons replaces org's reasons, recording e (its Action and actor) in
// the audit log in the same transaction.
func (s *Service) SetReasons(ctx context.Context, org string, rs []Reason, e audit.Entry) error {
	if err := ValidateReasons(rs); err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM factory_reasons WHERE org = $1`, org); err != nil {
			return err
		}
		for i, r := range rs {
			labels, _ := json.Marshal(r.Label)
			planned := 0
			if r.Planned {
				planned = 1
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO factory_reasons (org, pos, code, labels, planned) VALUES ($1, $2, $3, $4, $5)`,
				org, i, r.Code, string(labels), planned); err != nil {
				return fmt.Errorf("reason %s: %w", r.Code, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO factory_reason_lists (org, updated) VALUES ($1, $2)
			ON CONFLICT (org) DO UPDATE SET updated = excluded.updated`, org, meta.Nanos(s.now())); err != nil {
			return err
		}
		_, err := s.audit.RecordTx(ctx, tx, e)
		return err
	})
}

// Note is an acknowledgement or a comment of an alarm.
type Note struct {
	At    time.Time
	Actor string
	Ack   bool
	Text  string
}

// noteKey identifies the event a note is about.
type noteKey struct {
	asset, kind string
	start       int64
}

// AddNote adds a note to the alarm of org identified by asset, kind and
// start, recording e in the audit log in the same transaction. A second
// acknowledgement is refused with meta.ErrExists.
func (s *Service) AddNote(ctx context.Context, org, asset, kind string, start int64, n Note, e audit.Entry) error {
	if err := meta.CheckText(n.Text, n.Actor); err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if n.Ack {
			var acks int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM factory_alarm_notes
				WHERE org = $1 AND start_ts = $2 AND asset = $3 AND kind = $4 AND ack = 1`, org, start, asset, kind).Scan(&acks); err != nil {
				return err
			}
			if acks > 0 {
				return fmt.Errorf("alarm acknowledged already: %w", meta.ErrExists)
			}
		}
		ack := 0
		if n.Ack {
			ack = 1
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO factory_alarm_notes (org, asset, kind, start_ts, at, actor, ack, body)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, org, asset, kind, start, meta.Nanos(n.At), n.Actor, ack, n.Text); err != nil {
			return err
		}
		_, err := s.audit.RecordTx(ctx, tx, e)
		return err
	})
}

// notes returns the notes of org's alarms starting in [from, to], by
// event, oldest first.
func (s *Service) notes(ctx context.Context, org string, from, to int64) (map[noteKey][]Note, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT asset, kind, start_ts, at, actor, ack, body FROM factory_alarm_notes
		WHERE org = $1 AND start_ts >= $2 AND start_ts <= $3 ORDER BY at`, org, from, to)
	if err != nil {
		return nil, fmt.Errorf("alarm notes: %w", err)
	}
	defer rows.Close()
	out := map[noteKey][]Note{}
	for rows.Next() {
		var k noteKey
		var n Note
		var at, ack int64
		if err := rows.Scan(&k.asset, &k.kind, &k.start, &at, &n.Actor, &ack, &n.Text); err != nil {
			return nil, fmt.Errorf("alarm notes: %w", err)
		}
		n.At, n.Ack = meta.Time(at), ack != 0
		out[k] = append(out[k], n)
	}
	return out, errors.Join(rows.Err())
}

// Acked reports whether org's alarm identified by asset, kind and start
// has been acknowledged.
func (s *Service) Acked(ctx context.Context, org, asset, kind string, start int64) (bool, error) {
	var acks int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM factory_alarm_notes
		WHERE org = $1 AND start_ts = $2 AND asset = $3 AND kind = $4 AND ack = 1`, org, start, asset, kind).Scan(&acks); err != nil {
		return false, fmt.Errorf("alarm acknowledged? %w", err)
	}
	return acks > 0, nil
}
