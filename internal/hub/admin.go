package hub

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/auth"
	"github.com/molen-io/molen/internal/meta"
)

// openMeta opens the metadata database of cfg without starting a hub: for
// the operator's commands (molen audit verify, molen hub invite), which
// run beside a running hub or instead of it.
func openMeta(ctx context.Context, cfg Config) (*meta.DB, error) {
	if cfg.Store != "" {
		return meta.OpenPostgres(ctx, cfg.Store, cfg.StoreSchema)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("hub.data: required")
	}
	return meta.OpenSQLite(ctx, filepath.Join(cfg.DataDir, MetaFile), meta.Options{Legacy: filepath.Join(cfg.DataDir, StoreFile)})
}

// VerifyAudit verifies every organisation's audit log in the metadata of
// cfg.
func VerifyAudit(ctx context.Context, cfg Config) ([]audit.Report, error) {
	db, err := openMeta(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	l, err := audit.New(ctx, db, cfg.Now, cfg.Log)
	if err != nil {
		return nil, err
	}
	return l.VerifyAll(ctx)
}

// Invite makes a one-time invitation to org with role for email, as the
// operator (who can reach the database): how a hub gets its first
// platform admin, or an organisation whose people are all gone a new
// owner. It returns the link.
func Invite(ctx context.Context, cfg Config, org string, role api.Role, email string, ttl time.Duration) (string, error) {
	db, err := openMeta(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer db.Close()
	s, err := auth.New(ctx, auth.Config{DB: db, Now: cfg.Now, Log: cfg.Log, PublicURL: func() string { return publicURL(cfg) }})
	if err != nil {
		return "", err
	}
	if _, err := s.Org(ctx, org); err != nil {
		return "", err
	}
	sec, err := s.OperatorInvite(ctx, org, email, role, ttl)
	if err != nil {
		return "", fmt.Errorf("invite %s to %s: %w", email, org, err)
	}
	return s.URL("invite", sec), nil
}

func publicURL(cfg Config) string {
	if cfg.PublicURL != "" {
		return cfg.PublicURL
	}
	l := cfg.Listen
	if l == "" {
		l = DefaultListen
	}
	if cfg.TLSCert != "" {
		return "https://" + l
	}
	return "http://" + l
}
