package meta

import (
	"context"
	"embed"
	"fmt"
	"time"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// ownMigrations are the metadata layer's own tables.
var ownMigrations = Migrations{Domain: "meta", FS: Dir(migrationsFS, "migrations")}

// Lease lets one holder at a time run a named job (retention, say) when
// several hubs share a database. The holder takes it for a while and takes
// it again before it expires to keep it; a holder that stops renewing
// (crashed, cut off) loses it once it expires, and another takes over.
// Time comes from the caller, so tests and the database's clock never
// disagree about it.
type Lease struct {
	DB     *DB
	Name   string        // the job
	Holder string        // who asks; unique per hub process
	TTL    time.Duration // how long one Acquire holds it
}

// Acquire takes or renews the lease at now, until now+TTL, and reports
// whether l.Holder holds it. One statement decides: an upsert that
// replaces the row only when this holder has it or it expired, so two
// holders asking at once cannot both win. A renewal never moves the
// expiry back: a call with an older now (a run that started earlier and
// asks later) must not cut short what a later call took.
func (l *Lease) Acquire(ctx context.Context, now time.Time) (bool, error) {
	res, err := l.DB.ExecContext(ctx, `INSERT INTO leases (name, holder, expires) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
			expires = CASE WHEN leases.holder = excluded.holder AND leases.expires > excluded.expires
				THEN leases.expires ELSE excluded.expires END
		WHERE leases.holder = excluded.holder OR leases.expires <= $4`,
		l.Name, l.Holder, now.Add(l.TTL).UnixNano(), now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", l.Name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", l.Name, err)
	}
	return n == 1, nil
}

// Release gives the lease up if l.Holder holds it, so that another holder
// need not wait for it to expire.
func (l *Lease) Release(ctx context.Context) error {
	if _, err := l.DB.ExecContext(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, l.Name, l.Holder); err != nil {
		return fmt.Errorf("release lease %s: %w", l.Name, err)
	}
	return nil
}
