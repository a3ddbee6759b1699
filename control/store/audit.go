package store

import (
	"context"
	"fmt"
	"time"
)

// Audit page sizes.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// Audit is one state-changing API call. The store keeps what it is given:
// the caller leaves tokens and camera passwords out of Path and Detail.
type Audit struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Role   string    `json:"role"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Target string    `json:"target"`
	Result int       `json:"result"` // HTTP status
	Detail string    `json:"detail"`
}

// AppendAudit adds a to the log and returns it with its ID (and At, now if
// zero). IDs only grow, so they order the log and serve as page cursors.
func (s *Store) AppendAudit(ctx context.Context, a Audit) (Audit, error) {
	if a.At.IsZero() {
		a.At = s.stamp()
	}
	a.At = normTime(a.At)
	res, err := s.db.ExecContext(ctx, `INSERT INTO audit (at, actor, role, method, path, target, result, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, formatTime(a.At), a.Actor, a.Role, a.Method, a.Path, a.Target, a.Result, a.Detail)
	if err != nil {
		return Audit{}, fmt.Errorf("audit: append: %w", err)
	}
	if a.ID, err = res.LastInsertId(); err != nil {
		return Audit{}, fmt.Errorf("audit: append: %w", err)
	}
	return a, nil
}

// ListAudit returns up to limit entries older than the entry with ID
// before (0: from the newest), newest first. The next page starts before
// the last ID returned; an empty page is the end. limit ≤ 0 means
// DefaultAuditLimit and is capped at MaxAuditLimit.
func (s *Store) ListAudit(ctx context.Context, before int64, limit int) ([]Audit, error) {
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)
	query := `SELECT id, at, actor, role, method, path, target, result, detail FROM audit ORDER BY id DESC LIMIT ?`
	args := []any{limit}
	if before > 0 {
		query = `SELECT id, at, actor, role, method, path, target, result, detail FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?`
		args = []any{before, limit}
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	out := []Audit{}
	for rows.Next() {
		var a Audit
		var at string
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Role, &a.Method, &a.Path, &a.Target, &a.Result, &a.Detail); err != nil {
			return nil, fmt.Errorf("audit: list: %w", err)
		}
		if a.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("audit: list: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return out, nil
}

// PruneAudit deletes the entries recorded before cutoff and returns how
// many went. The rest keep their IDs, so paging is unaffected.
func (s *Store) PruneAudit(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM audit WHERE at < ?`, formatTime(normTime(cutoff)))
	if err != nil {
		return 0, fmt.Errorf("audit: prune before %s: %w", formatTime(cutoff), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("audit: prune: %w", err)
	}
	return n, nil
}
