package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// UpdateSessionState records a life-cycle change at time at: entering
// rehearsal or live sets StartedAt and clears EndedAt; ended sets EndedAt;
// idle clears both (the session is ready for another run). Which
// transitions are allowed is the session runtime's rule, not the store's.
func (s *Store) UpdateSessionState(ctx context.Context, id, state string, at time.Time) (Session, error) {
	if !validState(state) {
		return Session{}, invalidf("session %q: state %q is not idle, rehearsal, live or ended", id, state)
	}
	at = normTime(at)
	var out Session
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := getSession(ctx, tx, id)
		if err != nil {
			return err
		}
		switch state {
		case StateRehearsal, StateLive:
			cur.StartedAt, cur.EndedAt = &at, nil
		case StateEnded:
			cur.EndedAt = &at
		case StateIdle:
			cur.StartedAt, cur.EndedAt = nil, nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET state = ?, started_at = ?, ended_at = ?, updated_at = ? WHERE id = ?`,
			state, formatTimePtr(cur.StartedAt), formatTimePtr(cur.EndedAt), formatTime(s.stamp()), id)
		if err != nil {
			return fmt.Errorf("session %q: write state: %w", id, err)
		}
		out, err = getSession(ctx, tx, id)
		return err
	})
	return out, err
}

// UpdatePoint changes the fields given (non-nil) of one point and returns
// it. ErrNotFound names the session or the point that is missing.
func (s *Store) UpdatePoint(ctx context.Context, sessionID, pointID string, gain *float64, muted *bool, label *string) (Point, error) {
	if gain != nil && !validGain(*gain) {
		return Point{}, invalidf("session %q: point %q: gain %v is not a number ≥ 0", sessionID, pointID, *gain)
	}
	var out Point
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := sessionExists(ctx, tx, sessionID); err != nil {
			return err
		}
		row := tx.QueryRowContext(ctx, `SELECT id, source, role, label, gain, muted FROM points WHERE session_id = ? AND id = ?`, sessionID, pointID)
		if err := row.Scan(&out.ID, &out.Source, &out.Role, &out.Label, &out.Gain, &out.Muted); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("session %q: point %q: %w", sessionID, pointID, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("session %q: point %q: read: %w", sessionID, pointID, err)
		}
		if gain != nil {
			out.Gain = *gain
		}
		if muted != nil {
			out.Muted = *muted
		}
		if label != nil {
			out.Label = *label
		}
		if _, err := tx.ExecContext(ctx, `UPDATE points SET gain = ?, muted = ?, label = ? WHERE session_id = ? AND id = ?`,
			out.Gain, out.Muted, out.Label, sessionID, pointID); err != nil {
			return fmt.Errorf("session %q: point %q: write: %w", sessionID, pointID, err)
		}
		return touchSession(ctx, tx, sessionID, s.stamp())
	})
	return out, err
}

// SetLayout changes a session's layout and focus (a point ID, or "").
func (s *Store) SetLayout(ctx context.Context, id, layout, focus string) (Session, error) {
	var out Session
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := getSession(ctx, tx, id)
		if err != nil {
			return err
		}
		cur.Layout, cur.Focus = layout, focus
		if err := cur.validate(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET layout = ?, focus = ?, updated_at = ? WHERE id = ?`,
			layout, focus, formatTime(s.stamp()), id); err != nil {
			return fmt.Errorf("session %q: write layout: %w", id, err)
		}
		out, err = getSession(ctx, tx, id)
		return err
	})
	return out, err
}

func sessionExists(ctx context.Context, tx *sql.Tx, id string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("session %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("session %q: read: %w", id, err)
	}
	return nil
}

func touchSession(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET updated_at = ? WHERE id = ?`, formatTime(now), id); err != nil {
		return fmt.Errorf("session %q: write: %w", id, err)
	}
	return nil
}
