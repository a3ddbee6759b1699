package store

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// DefaultAuditRetention is how long audit entries are kept when the config
// does not say: 400 days, a full year (the yearly inspection of citizen
// reception looks back over the previous calendar year) with a month's
// margin for it to take place. Entries are small (about 200 bytes); a
// deployment whose rules ask for longer sets 0 (forever) or more.
const DefaultAuditRetention = 400 * 24 * time.Hour

// AuditPruneConfig says how long audit entries live.
type AuditPruneConfig struct {
	// Retention is the age past which entries are deleted; 0 keeps them
	// forever.
	Retention time.Duration
	// Every is how often the pruner runs after the first run at start.
	// Default 24 h.
	Every time.Duration
	// Now is the clock; default time.Now. Tests set it.
	Now func() time.Time
}

// Validate fills defaults and checks values.
func (c *AuditPruneConfig) Validate() error {
	if c.Every == 0 {
		c.Every = 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.Retention < 0:
		return errors.New("audit: Retention: negative (0 keeps forever)")
	case c.Every < 0:
		return errors.New("audit: Every: negative")
	}
	return nil
}

// AuditPruner deletes audit entries older than the retention, once at start
// and then every day. It is apart from Store, which starts no goroutines.
type AuditPruner struct {
	cfg AuditPruneConfig
	log *slog.Logger
	st  *Store
}

// NewAuditPruner makes a pruner; it starts nothing.
func NewAuditPruner(cfg AuditPruneConfig, log *slog.Logger, st *Store) (*AuditPruner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if st == nil {
		return nil, errors.New("audit: Store is required")
	}
	return &AuditPruner{cfg: cfg, log: log.With("component", "audit"), st: st}, nil
}

// Run prunes at once and then every cfg.Every until ctx ends. With a
// retention of 0 it only says so and returns.
func (p *AuditPruner) Run(ctx context.Context) error {
	if p.cfg.Retention == 0 {
		p.log.Info("audit log kept forever (audit.retention 0)")
		return nil
	}
	t := time.NewTicker(p.cfg.Every)
	defer t.Stop()
	for {
		// A failure is logged and tried again next time: the entries are
		// still there, nothing is lost by waiting.
		if _, err := p.Prune(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("audit log not pruned", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Prune deletes the entries older than the retention now and logs how many.
func (p *AuditPruner) Prune(ctx context.Context) (int64, error) {
	if p.cfg.Retention == 0 {
		return 0, nil
	}
	cutoff := p.cfg.Now().Add(-p.cfg.Retention)
	n, err := p.st.PruneAudit(ctx, cutoff)
	if err != nil {
		return 0, err
	}
	p.log.Info("audit log pruned", "deleted", n, "older_than", cutoff.UTC().Format(time.RFC3339), "retention", p.cfg.Retention)
	return n, nil
}
