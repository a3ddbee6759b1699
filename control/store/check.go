package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Check kinds: run by hand, or by the scheduler the day before and two
// hours before the session (Decision 354/QĐ-UBND-HC asks for both).
const (
	CheckManual = "manual"
	CheckT24h   = "t-24h"
	CheckT2h    = "t-2h"
)

// Verdicts of a check, per point and overall.
const (
	VerdictPass = "pass"
	VerdictWarn = "warn"
	VerdictFail = "fail"
)

// CheckReport is one pre-session check of every point of a session.
type CheckReport struct {
	// N numbers a session's reports 1, 2, 3… (GET …/checks/{n}).
	N          int          `json:"n"`
	SessionID  string       `json:"session_id"`
	Kind       string       `json:"kind"`
	StartedAt  time.Time    `json:"started_at"`
	FinishedAt time.Time    `json:"finished_at"`
	Verdict    string       `json:"verdict"`
	Points     []PointCheck `json:"points"`
	// Server is the server side of the check (encoder, disk, CPU), as the
	// checker wrote it.
	Server json.RawMessage `json:"server,omitempty"`
}

// PointCheck is the verdict on one point, with reasons a technician can act on.
type PointCheck struct {
	PointID string          `json:"point_id"`
	Source  string          `json:"source"`
	Verdict string          `json:"verdict"`
	Reasons []string        `json:"reasons"`
	Probe   json.RawMessage `json:"probe,omitempty"`
}

func validVerdict(v string) bool { return v == VerdictPass || v == VerdictWarn || v == VerdictFail }

func (r CheckReport) validate() error {
	if r.Kind != CheckManual && r.Kind != CheckT24h && r.Kind != CheckT2h {
		return invalidf("session %q: check kind %q is not manual, t-24h or t-2h", r.SessionID, r.Kind)
	}
	if !validVerdict(r.Verdict) {
		return invalidf("session %q: check verdict %q is not pass, warn or fail", r.SessionID, r.Verdict)
	}
	if r.StartedAt.IsZero() || r.FinishedAt.IsZero() {
		return invalidf("session %q: check needs started_at and finished_at", r.SessionID)
	}
	if len(r.Server) > 0 && !json.Valid(r.Server) {
		return invalidf("session %q: check server report is not JSON", r.SessionID)
	}
	for _, p := range r.Points {
		if !validVerdict(p.Verdict) {
			return invalidf("session %q: check point %q: verdict %q is not pass, warn or fail", r.SessionID, p.PointID, p.Verdict)
		}
		if len(p.Probe) > 0 && !json.Valid(p.Probe) {
			return invalidf("session %q: check point %q: probe is not JSON", r.SessionID, p.PointID)
		}
	}
	return nil
}

// AddCheck stores a finished report under the session's next number, and
// returns it with N set. ErrNotFound if the session is absent.
func (s *Store) AddCheck(ctx context.Context, r CheckReport) (CheckReport, error) {
	if err := r.validate(); err != nil {
		return CheckReport{}, err
	}
	r.StartedAt, r.FinishedAt = normTime(r.StartedAt), normTime(r.FinishedAt)
	r.Points = append([]PointCheck{}, r.Points...)
	for i := range r.Points {
		if r.Points[i].Reasons == nil {
			r.Points[i].Reasons = []string{}
		}
	}
	points, err := json.Marshal(r.Points)
	if err != nil {
		return CheckReport{}, fmt.Errorf("session %q: check: encode points: %w", r.SessionID, err)
	}
	var server any
	if len(r.Server) > 0 {
		server = string(r.Server)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := sessionExists(ctx, tx, r.SessionID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(n), 0) + 1 FROM checks WHERE session_id = ?`, r.SessionID).Scan(&r.N); err != nil {
			return fmt.Errorf("session %q: check: number: %w", r.SessionID, err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO checks (`+checkColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			r.SessionID, r.N, r.Kind, formatTime(r.StartedAt), formatTime(r.FinishedAt), r.Verdict, string(points), server)
		if err != nil {
			return fmt.Errorf("session %q: check %d: write: %w", r.SessionID, r.N, err)
		}
		return nil
	})
	if err != nil {
		return CheckReport{}, err
	}
	return r, nil
}

// ListChecks returns a session's reports, oldest (N = 1) first.
// ErrNotFound if the session is absent.
func (s *Store) ListChecks(ctx context.Context, sessionID string) ([]CheckReport, error) {
	out := []CheckReport{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := sessionExists(ctx, tx, sessionID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+checkColumns+` FROM checks WHERE session_id = ? ORDER BY n`, sessionID)
		if err != nil {
			return fmt.Errorf("session %q: list checks: %w", sessionID, err)
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanCheck(rows)
			if err != nil {
				return fmt.Errorf("session %q: list checks: %w", sessionID, err)
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

// GetCheck returns report n of a session; ErrNotFound if either is absent.
func (s *Store) GetCheck(ctx context.Context, sessionID string, n int) (CheckReport, error) {
	var out CheckReport
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := sessionExists(ctx, tx, sessionID); err != nil {
			return err
		}
		var err error
		out, err = scanCheck(tx.QueryRowContext(ctx, `SELECT `+checkColumns+` FROM checks WHERE session_id = ? AND n = ?`, sessionID, n))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("session %q: check %d: %w", sessionID, n, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("session %q: check %d: read: %w", sessionID, n, err)
		}
		return nil
	})
	return out, err
}

// HasCheck reports whether a check of this kind started at or after since
// (zero: ever). The scheduler passes the session's scheduled time less the
// lead time, so a rescheduled session is checked again but a restart does
// not run the same automatic check twice.
func (s *Store) HasCheck(ctx context.Context, sessionID, kind string, since time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM checks WHERE session_id = ? AND kind = ? AND started_at >= ?`,
		sessionID, kind, formatTime(since)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("session %q: find %s check: %w", sessionID, kind, err)
	}
	return n > 0, nil
}

const checkColumns = `session_id, n, kind, started_at, finished_at, verdict, points, server`

func scanCheck(r rowScanner) (CheckReport, error) {
	var c CheckReport
	var started, finished, points string
	var server sql.NullString
	if err := r.Scan(&c.SessionID, &c.N, &c.Kind, &started, &finished, &c.Verdict, &points, &server); err != nil {
		return CheckReport{}, err
	}
	var err error
	if c.StartedAt, err = parseTime(started); err != nil {
		return CheckReport{}, err
	}
	if c.FinishedAt, err = parseTime(finished); err != nil {
		return CheckReport{}, err
	}
	if err := json.Unmarshal([]byte(points), &c.Points); err != nil {
		return CheckReport{}, fmt.Errorf("stored check points: %w", err)
	}
	if server.Valid {
		c.Server = json.RawMessage(server.String)
	}
	return c, nil
}
