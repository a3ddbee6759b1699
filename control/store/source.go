package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Origins: where an entity was defined. On restart the config file wins
// over what was created through the API (see LoadConfig).
const (
	OriginConfig = "config"
	OriginAPI    = "api"
)

// Source is a camera or encoder feed (docs/configuration.md "sources").
type Source struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// URL is stored as given, credentials included; the API layer redacts
	// it (ingest.RedactURL) before it is shown or logged.
	URL string `json:"url"`
	// SubURL is the camera's sub-stream (rtsp://), decoded for tiles no
	// larger than its picture; "" none. Stored and redacted as URL is.
	SubURL    string    `json:"sub_url,omitempty"`
	Transport string    `json:"transport"`
	Origin    string    `json:"origin"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// AllowAnonymous: a push:// source without credentials, on purpose.
	AllowAnonymous bool `json:"allow_anonymous"`
	// PublishSHA256 is the hex sha256 of a whip:// source's publish
	// secret; never shown.
	PublishSHA256 string `json:"-"`
}

// Kind is the source kind its URL's scheme names ("whip", "push", …).
func (src Source) Kind() string {
	scheme, _, _ := strings.Cut(src.URL, "://")
	return scheme
}

func (src Source) validate() error {
	if src.ID == "" {
		return invalidf("source: id is empty")
	}
	if src.URL == "" {
		return invalidf("source %q: url is empty", src.ID)
	}
	if src.Origin != OriginConfig && src.Origin != OriginAPI {
		return invalidf("source %q: origin %q is not %q or %q", src.ID, src.Origin, OriginConfig, OriginAPI)
	}
	return nil
}

// CreateSource adds a new source; ErrConflict if the id is taken. Origin
// defaults to "api". CreatedAt and UpdatedAt are set by the store.
func (s *Store) CreateSource(ctx context.Context, src Source) (Source, error) {
	var out Source
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := getSource(ctx, tx, src.ID); err == nil {
			return fmt.Errorf("source %q: %w", src.ID, ErrConflict)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		var err error
		out, err = putSource(ctx, tx, src, s.stamp())
		return err
	})
	return out, err
}

// PutSource creates the source or replaces all its fields but CreatedAt.
func (s *Store) PutSource(ctx context.Context, src Source) (Source, error) {
	var out Source
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = putSource(ctx, tx, src, s.stamp())
		return err
	})
	return out, err
}

// UpdateSource applies fn to the stored source and writes the result, in one
// transaction (a PATCH). fn may not change the ID. ErrNotFound if absent.
func (s *Store) UpdateSource(ctx context.Context, id string, fn func(*Source) error) (Source, error) {
	var out Source
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := getSource(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := fn(&cur); err != nil {
			return err
		}
		if cur.ID != id {
			return invalidf("source %q: id cannot change (to %q)", id, cur.ID)
		}
		out, err = putSource(ctx, tx, cur, s.stamp())
		return err
	})
	return out, err
}

// GetSource returns one source; ErrNotFound if absent.
func (s *Store) GetSource(ctx context.Context, id string) (Source, error) {
	var out Source
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = getSource(ctx, tx, id)
		return err
	})
	return out, err
}

// ListSources returns every source, by id.
func (s *Store) ListSources(ctx context.Context) ([]Source, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sourceColumns+` FROM sources ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	defer rows.Close()
	out := []Source{}
	for rows.Next() {
		src, err := scanSource(rows)
		if err != nil {
			return nil, fmt.Errorf("list sources: %w", err)
		}
		out = append(out, src)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	return out, nil
}

// DeleteSource removes a source. ErrNotFound if absent; an *InUseError
// (errors.Is ErrConflict) naming the sessions whose points use it.
func (s *Store) DeleteSource(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		users, err := sessionsUsingSource(ctx, tx, id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return &InUseError{Source: id, Sessions: users}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM sources WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("source %q: delete: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("source %q: %w", id, ErrNotFound)
		}
		return nil
	})
}

const sourceColumns = `id, name, url, transport, origin, created_at, updated_at, allow_anonymous, publish_sha256, sub_url`

type rowScanner interface{ Scan(dest ...any) error }

func scanSource(r rowScanner) (Source, error) {
	var src Source
	var created, updated string
	if err := r.Scan(&src.ID, &src.Name, &src.URL, &src.Transport, &src.Origin, &created, &updated, &src.AllowAnonymous, &src.PublishSHA256, &src.SubURL); err != nil {
		return Source{}, err
	}
	var err error
	if src.CreatedAt, err = parseTime(created); err != nil {
		return Source{}, err
	}
	if src.UpdatedAt, err = parseTime(updated); err != nil {
		return Source{}, err
	}
	return src, nil
}

func getSource(ctx context.Context, tx *sql.Tx, id string) (Source, error) {
	src, err := scanSource(tx.QueryRowContext(ctx, `SELECT `+sourceColumns+` FROM sources WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Source{}, fmt.Errorf("source %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Source{}, fmt.Errorf("source %q: read: %w", id, err)
	}
	return src, nil
}

// putSource upserts src, keeping CreatedAt of an existing row. An update
// rather than INSERT OR REPLACE, which would delete the row first and trip
// the foreign keys of the points that use it.
func putSource(ctx context.Context, tx *sql.Tx, src Source, now time.Time) (Source, error) {
	if src.Origin == "" {
		src.Origin = OriginAPI
	}
	if err := src.validate(); err != nil {
		return Source{}, err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO sources (`+sourceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, url = excluded.url,
			transport = excluded.transport, origin = excluded.origin, updated_at = excluded.updated_at,
			allow_anonymous = excluded.allow_anonymous, publish_sha256 = excluded.publish_sha256,
			sub_url = excluded.sub_url`,
		src.ID, src.Name, src.URL, src.Transport, src.Origin, formatTime(now), formatTime(now), src.AllowAnonymous, src.PublishSHA256, src.SubURL)
	if err != nil {
		return Source{}, fmt.Errorf("source %q: write: %w", src.ID, err)
	}
	return getSource(ctx, tx, src.ID)
}

// sessionsUsingSource lists, sorted and once each, the sessions with a point
// fed by source id.
func sessionsUsingSource(ctx context.Context, tx *sql.Tx, id string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT session_id FROM points WHERE source = ? ORDER BY session_id`, id)
	if err != nil {
		return nil, fmt.Errorf("source %q: find sessions using it: %w", id, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sid string
		if err := rows.Scan(&sid); err != nil {
			return nil, fmt.Errorf("source %q: find sessions using it: %w", id, err)
		}
		out = append(out, sid)
	}
	return out, rows.Err()
}
