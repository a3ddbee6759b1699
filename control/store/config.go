package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// LoadConfig makes the store agree with the config file, in one
// transaction, and returns one human-readable line per change the operator
// should see in the log:
//
//   - each source and session of the config is stored with Origin "config";
//     where the API had created one with the same id, the config's replaces
//     it ("source tinh: config replaces the version created through the API");
//   - a session that came from the config but is no longer in it is removed,
//     with its check reports and invites;
//   - a source that came from the config but is no longer in it is removed,
//     unless an API session still uses it; then it is kept, and said so.
//
// An unchanged entry is not rewritten, so UpdatedAt says when it last
// changed. Sessions keep their run-time state (State, StartedAt, EndedAt).
func (s *Store) LoadConfig(ctx context.Context, sources []Source, sessions []Session) ([]string, error) {
	var msgs []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		now := s.stamp()
		inConfig := map[string]bool{}
		for _, src := range sources {
			src.Origin = OriginConfig
			inConfig[src.ID] = true
			cur, err := getSource(ctx, tx, src.ID)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return err
			case cur.Origin == OriginAPI:
				msgs = append(msgs, fmt.Sprintf("source %s: config replaces the version created through the API", src.ID))
			case sameSource(cur, src):
				continue
			}
			if _, err := putSource(ctx, tx, src, now); err != nil {
				return fmt.Errorf("config: %w", err)
			}
		}

		inConfigSession := map[string]bool{}
		for _, sess := range sessions {
			sess.Origin = OriginConfig
			if sess.Start == "" {
				sess.Start = StartLive // docs/configuration.md: the default for sessions in the config file
			}
			inConfigSession[sess.ID] = true
			cur, err := getSession(ctx, tx, sess.ID)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return err
			case cur.Origin == OriginAPI:
				msgs = append(msgs, fmt.Sprintf("session %s: config replaces the version created through the API", sess.ID))
			case sameSessionDefinition(cur, sess):
				continue
			}
			if _, err := putSession(ctx, tx, sess, now); err != nil {
				return fmt.Errorf("config: %w", err)
			}
		}

		// Stale sessions first: removing them may free stale sources.
		stale, err := idsWithOrigin(ctx, tx, "sessions", OriginConfig)
		if err != nil {
			return err
		}
		for _, id := range stale {
			if inConfigSession[id] {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id); err != nil {
				return fmt.Errorf("session %q: delete: %w", id, err)
			}
			msgs = append(msgs, fmt.Sprintf("session %s: removed, it is no longer in the config", id))
		}

		stale, err = idsWithOrigin(ctx, tx, "sources", OriginConfig)
		if err != nil {
			return err
		}
		for _, id := range stale {
			if inConfig[id] {
				continue
			}
			users, err := sessionsUsingSource(ctx, tx, id)
			if err != nil {
				return err
			}
			if len(users) > 0 {
				msgs = append(msgs, fmt.Sprintf("source %s: no longer in the config, kept because session(s) %s use it", id, strings.Join(users, ", ")))
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM sources WHERE id = ?`, id); err != nil {
				return fmt.Errorf("source %q: delete: %w", id, err)
			}
			msgs = append(msgs, fmt.Sprintf("source %s: removed, it is no longer in the config", id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: load config: %w", err)
	}
	return msgs, nil
}

// idsWithOrigin lists the ids in table (a constant, never user input) that
// came from origin.
func idsWithOrigin(ctx context.Context, tx *sql.Tx, table, origin string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM `+table+` WHERE origin = ? ORDER BY id`, origin)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", table, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list %s: %w", table, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func sameSource(a, b Source) bool {
	return a.Name == b.Name && a.URL == b.URL && a.Transport == b.Transport && a.Origin == b.Origin &&
		a.AllowAnonymous == b.AllowAnonymous && a.PublishSHA256 == b.PublishSHA256 && a.SubURL == b.SubURL
}

// sameSessionDefinition compares what a config file defines, not run-time
// state or timestamps.
func sameSessionDefinition(a, b Session) bool {
	sameTime := (a.ScheduledAt == nil) == (b.ScheduledAt == nil) &&
		(a.ScheduledAt == nil || a.ScheduledAt.Equal(*b.ScheduledAt))
	return a.Title == b.Title && a.CaseRef == b.CaseRef && a.Layout == b.Layout && a.Focus == b.Focus &&
		a.Output == b.Output && a.Record == b.Record && a.Start == b.Start && a.Origin == b.Origin &&
		a.Duration == b.Duration && sameTime && slices.Equal(a.Points, b.Points)
}
