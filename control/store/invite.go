package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Invite is a participant's join link for one session. Only the SHA-256 of
// its token is kept: a copy of the database does not let anyone in.
type Invite struct {
	ID        string `json:"id"`
	SessionID string `json:"session_id"`
	Name      string `json:"name"`
	// Point is the point of the session the invite was made for: its
	// holder may publish that point's source over WHIP and watch its
	// return feed. Empty: a viewer of the session.
	Point     string     `json:"point,omitempty"`
	TokenHash [32]byte   `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// AddInvite stores an invite. An empty ID gets a random one; CreatedAt
// defaults to now. ErrNotFound if the session is absent; ErrConflict if the
// ID or the token hash is already stored.
func (s *Store) AddInvite(ctx context.Context, inv Invite) (Invite, error) {
	if inv.TokenHash == ([32]byte{}) {
		return Invite{}, invalidf("session %q: invite: token hash is empty", inv.SessionID)
	}
	if inv.ID == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return Invite{}, fmt.Errorf("session %q: invite: id: %w", inv.SessionID, err)
		}
		inv.ID = hex.EncodeToString(b[:])
	}
	if inv.CreatedAt.IsZero() {
		inv.CreatedAt = s.stamp()
	}
	inv.CreatedAt = normTime(inv.CreatedAt)
	inv.RevokedAt = normTimePtr(inv.RevokedAt)
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := sessionExists(ctx, tx, inv.SessionID); err != nil {
			return err
		}
		var n int
		if inv.Point != "" {
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM points WHERE session_id = ? AND id = ?`, inv.SessionID, inv.Point).Scan(&n); err != nil {
				return fmt.Errorf("invite %q: read points: %w", inv.ID, err)
			}
			if n == 0 {
				return invalidf("session %q: invite: no point %q", inv.SessionID, inv.Point)
			}
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM invites WHERE id = ?`, inv.ID).Scan(&n); err != nil {
			return fmt.Errorf("invite %q: read: %w", inv.ID, err)
		}
		if n > 0 {
			return fmt.Errorf("invite %q: %w", inv.ID, ErrConflict)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM invites WHERE token_hash = ?`, inv.TokenHash[:]).Scan(&n); err != nil {
			return fmt.Errorf("invite %q: read: %w", inv.ID, err)
		}
		if n > 0 {
			// The token is random; a repeat means the caller reused one.
			return fmt.Errorf("invite %q: token already belongs to another invite: %w", inv.ID, ErrConflict)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO invites (`+inviteColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			inv.ID, inv.SessionID, inv.Name, inv.TokenHash[:], formatTime(inv.CreatedAt), formatTimePtr(inv.RevokedAt), inv.Point)
		if err != nil {
			return fmt.Errorf("invite %q: write: %w", inv.ID, err)
		}
		return nil
	})
	if err != nil {
		return Invite{}, err
	}
	return inv, nil
}

// ListInvites returns a session's invites, revoked ones included, oldest
// first. ErrNotFound if the session is absent.
func (s *Store) ListInvites(ctx context.Context, sessionID string) ([]Invite, error) {
	out := []Invite{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := sessionExists(ctx, tx, sessionID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE session_id = ? ORDER BY created_at, id`, sessionID)
		if err != nil {
			return fmt.Errorf("session %q: list invites: %w", sessionID, err)
		}
		defer rows.Close()
		for rows.Next() {
			inv, err := scanInvite(rows)
			if err != nil {
				return fmt.Errorf("session %q: list invites: %w", sessionID, err)
			}
			out = append(out, inv)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeInvite marks an invite revoked (now). Revoking twice keeps the first
// time. ErrNotFound if the session has no such invite.
func (s *Store) RevokeInvite(ctx context.Context, sessionID, id string) (Invite, error) {
	var out Invite
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE invites SET revoked_at = COALESCE(revoked_at, ?) WHERE session_id = ? AND id = ?`,
			formatTime(s.stamp()), sessionID, id)
		if err != nil {
			return fmt.Errorf("session %q: invite %q: revoke: %w", sessionID, id, err)
		}
		out, err = scanInvite(tx.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE session_id = ? AND id = ?`, sessionID, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("session %q: invite %q: %w", sessionID, id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("session %q: invite %q: read: %w", sessionID, id, err)
		}
		return nil
	})
	return out, err
}

// FindInviteByTokenHash returns the invite whose token hashes to hash,
// revoked or not: the caller refuses a revoked invite or an ended session.
// ErrNotFound if none. The lookup goes through an index on the hash; the
// caller compares the hash it holds with the returned one in constant time.
func (s *Store) FindInviteByTokenHash(ctx context.Context, hash [32]byte) (Invite, error) {
	inv, err := scanInvite(s.db.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE token_hash = ?`, hash[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return Invite{}, fmt.Errorf("invite: %w", ErrNotFound)
	}
	if err != nil {
		return Invite{}, fmt.Errorf("invite: find by token: %w", err)
	}
	return inv, nil
}

const inviteColumns = `id, session_id, name, token_hash, created_at, revoked_at, point`

func scanInvite(r rowScanner) (Invite, error) {
	var inv Invite
	var hash []byte
	var created string
	var revoked sql.NullString
	if err := r.Scan(&inv.ID, &inv.SessionID, &inv.Name, &hash, &created, &revoked, &inv.Point); err != nil {
		return Invite{}, err
	}
	if len(hash) != len(inv.TokenHash) {
		return Invite{}, fmt.Errorf("stored token hash of invite %q has %d bytes", inv.ID, len(hash))
	}
	copy(inv.TokenHash[:], hash)
	var err error
	if inv.CreatedAt, err = parseTime(created); err != nil {
		return Invite{}, err
	}
	if inv.RevokedAt, err = parseTimePtr(revoked); err != nil {
		return Invite{}, err
	}
	return inv, nil
}
