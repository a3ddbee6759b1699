package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"
)

// Session states (docs/api.md, "Session status").
const (
	StateIdle      = "idle"
	StateRehearsal = "rehearsal"
	StateLive      = "live"
	StateEnded     = "ended"
)

// Start modes: what the server does with a session at start-up.
const (
	StartLive      = "live"
	StartRehearsal = "rehearsal"
	StartManual    = "manual"
)

// Output is the composite's encoding.
type Output struct {
	Width   int `json:"width"`
	Height  int `json:"height"`
	FPS     int `json:"fps"`
	Bitrate int `json:"bitrate"` // kbit/s
}

// Point is one studio of a session, fed by a source.
type Point struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Role   string `json:"role"`
	Label  string `json:"label"`
	// Gain is stored as given: 0 is silence, so callers default it to 1.
	Gain  float64 `json:"gain"`
	Muted bool    `json:"muted"`
}

// Session is a citizen-reception session and its points.
type Session struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	CaseRef string `json:"case_ref"`
	Layout  string `json:"layout"`
	// Focus is the ID of the point the layout features, or "".
	Focus       string     `json:"focus"`
	Output      Output     `json:"output"`
	Record      bool       `json:"record"`
	Start       string     `json:"start"`
	ScheduledAt *time.Time `json:"scheduled_at,omitempty"`
	// Duration is the planned length (0: not given). JSON leaves it to the
	// API, which writes it as "2h30m", not as nanoseconds.
	Duration time.Duration `json:"-"`
	// State, StartedAt and EndedAt change only through UpdateSessionState.
	State     string     `json:"state"`
	Origin    string     `json:"origin"`
	Points    []Point    `json:"points"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
}

func validState(st string) bool {
	return st == StateIdle || st == StateRehearsal || st == StateLive || st == StateEnded
}

func validGain(g float64) bool { return !math.IsNaN(g) && !math.IsInf(g, 0) && g >= 0 }

func (sess Session) validate() error {
	if sess.ID == "" {
		return invalidf("session: id is empty")
	}
	if sess.Start != StartLive && sess.Start != StartRehearsal && sess.Start != StartManual {
		return invalidf("session %q: start %q is not live, rehearsal or manual", sess.ID, sess.Start)
	}
	if !validState(sess.State) {
		return invalidf("session %q: state %q is not idle, rehearsal, live or ended", sess.ID, sess.State)
	}
	if sess.Origin != OriginConfig && sess.Origin != OriginAPI {
		return invalidf("session %q: origin %q is not %q or %q", sess.ID, sess.Origin, OriginConfig, OriginAPI)
	}
	o := sess.Output
	if o.Width < 0 || o.Height < 0 || o.FPS < 0 || o.Bitrate < 0 {
		return invalidf("session %q: output has a negative value", sess.ID)
	}
	if sess.Duration < 0 {
		return invalidf("session %q: duration %s is negative", sess.ID, sess.Duration)
	}
	seen := make(map[string]bool, len(sess.Points))
	for _, p := range sess.Points {
		switch {
		case p.ID == "":
			return invalidf("session %q: a point has an empty id", sess.ID)
		case seen[p.ID]:
			return invalidf("session %q: point %q appears twice", sess.ID, p.ID)
		case p.Source == "":
			return invalidf("session %q: point %q: source is empty", sess.ID, p.ID)
		case !validGain(p.Gain):
			return invalidf("session %q: point %q: gain %v is not a number ≥ 0", sess.ID, p.ID, p.Gain)
		}
		seen[p.ID] = true
	}
	if sess.Focus != "" && !seen[sess.Focus] {
		return invalidf("session %q: focus %q is not one of its points", sess.ID, sess.Focus)
	}
	return nil
}

// CreateSession adds a new session with its points; ErrConflict if the id
// is taken. State defaults to "idle", Origin to "api".
func (s *Store) CreateSession(ctx context.Context, sess Session) (Session, error) {
	var out Session
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := getSession(ctx, tx, sess.ID); err == nil {
			return fmt.Errorf("session %q: %w", sess.ID, ErrConflict)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		var err error
		out, err = putSession(ctx, tx, sess, s.stamp())
		return err
	})
	return out, err
}

// PutSession creates the session or replaces its definition and points. On
// an existing session, State, StartedAt, EndedAt and CreatedAt are kept:
// redefining a running session does not stop it.
func (s *Store) PutSession(ctx context.Context, sess Session) (Session, error) {
	var out Session
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = putSession(ctx, tx, sess, s.stamp())
		return err
	})
	return out, err
}

// UpdateSession applies fn to the stored session and writes the result in
// one transaction (a PATCH), with PutSession's rules. ErrNotFound if absent.
func (s *Store) UpdateSession(ctx context.Context, id string, fn func(*Session) error) (Session, error) {
	var out Session
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := getSession(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := fn(&cur); err != nil {
			return err
		}
		if cur.ID != id {
			return invalidf("session %q: id cannot change (to %q)", id, cur.ID)
		}
		out, err = putSession(ctx, tx, cur, s.stamp())
		return err
	})
	return out, err
}

// GetSession returns one session with its points; ErrNotFound if absent.
func (s *Store) GetSession(ctx context.Context, id string) (Session, error) {
	var out Session
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = getSession(ctx, tx, id)
		return err
	})
	return out, err
}

// ListSessions returns every session with its points, by id.
func (s *Store) ListSessions(ctx context.Context) ([]Session, error) {
	var out []Session
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = listSessions(ctx, tx)
		return err
	})
	return out, err
}

// DeleteSession removes a session with its points, check reports and
// invites. ErrNotFound if absent; ErrConflict while it is live.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		cur, err := getSession(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.State == StateLive {
			return fmt.Errorf("session %q is live and cannot be deleted: %w", id, ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id); err != nil {
			return fmt.Errorf("session %q: delete: %w", id, err)
		}
		return nil
	})
}

func putSession(ctx context.Context, tx *sql.Tx, sess Session, now time.Time) (Session, error) {
	if sess.Origin == "" {
		sess.Origin = OriginAPI
	}
	if sess.State == "" {
		sess.State = StateIdle
	}
	if err := sess.validate(); err != nil {
		return Session{}, err
	}
	for _, p := range sess.Points {
		if _, err := getSource(ctx, tx, p.Source); errors.Is(err, ErrNotFound) {
			return Session{}, invalidf("session %q: point %q: no source %q", sess.ID, p.ID, p.Source)
		} else if err != nil {
			return Session{}, err
		}
	}
	o := sess.Output
	// On conflict the run-time columns (state, started_at, ended_at) and
	// created_at are left alone.
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET title = excluded.title, case_ref = excluded.case_ref,
			layout = excluded.layout, focus = excluded.focus, out_width = excluded.out_width,
			out_height = excluded.out_height, out_fps = excluded.out_fps, out_bitrate = excluded.out_bitrate,
			record = excluded.record, start = excluded.start, scheduled_at = excluded.scheduled_at,
			duration_ns = excluded.duration_ns, origin = excluded.origin, updated_at = excluded.updated_at`,
		sess.ID, sess.Title, sess.CaseRef, sess.Layout, sess.Focus, o.Width, o.Height, o.FPS, o.Bitrate,
		sess.Record, sess.Start, formatTimePtr(sess.ScheduledAt), int64(sess.Duration), sess.State, sess.Origin,
		formatTime(now), formatTime(now), formatTimePtr(sess.StartedAt), formatTimePtr(sess.EndedAt))
	if err != nil {
		return Session{}, fmt.Errorf("session %q: write: %w", sess.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM points WHERE session_id = ?`, sess.ID); err != nil {
		return Session{}, fmt.Errorf("session %q: write points: %w", sess.ID, err)
	}
	for i, p := range sess.Points {
		_, err := tx.ExecContext(ctx, `INSERT INTO points (session_id, id, position, source, role, label, gain, muted)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, sess.ID, p.ID, i, p.Source, p.Role, p.Label, p.Gain, p.Muted)
		if err != nil {
			return Session{}, fmt.Errorf("session %q: point %q: write: %w", sess.ID, p.ID, err)
		}
	}
	return getSession(ctx, tx, sess.ID)
}

const sessionColumns = `id, title, case_ref, layout, focus, out_width, out_height, out_fps, out_bitrate,
	record, start, scheduled_at, duration_ns, state, origin, created_at, updated_at, started_at, ended_at`

func scanSession(r rowScanner) (Session, error) {
	var sess Session
	var created, updated string
	var scheduled, started, ended sql.NullString
	var duration int64
	o := &sess.Output
	err := r.Scan(&sess.ID, &sess.Title, &sess.CaseRef, &sess.Layout, &sess.Focus,
		&o.Width, &o.Height, &o.FPS, &o.Bitrate, &sess.Record, &sess.Start, &scheduled, &duration,
		&sess.State, &sess.Origin, &created, &updated, &started, &ended)
	if err != nil {
		return Session{}, err
	}
	sess.Duration = time.Duration(duration)
	if sess.CreatedAt, err = parseTime(created); err != nil {
		return Session{}, err
	}
	if sess.UpdatedAt, err = parseTime(updated); err != nil {
		return Session{}, err
	}
	if sess.ScheduledAt, err = parseTimePtr(scheduled); err != nil {
		return Session{}, err
	}
	if sess.StartedAt, err = parseTimePtr(started); err != nil {
		return Session{}, err
	}
	if sess.EndedAt, err = parseTimePtr(ended); err != nil {
		return Session{}, err
	}
	sess.Points = []Point{}
	return sess, nil
}

func getSession(ctx context.Context, tx *sql.Tx, id string) (Session, error) {
	sess, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("session %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Session{}, fmt.Errorf("session %q: read: %w", id, err)
	}
	byID := map[string]*Session{id: &sess}
	if err := loadPoints(ctx, tx, `WHERE session_id = ?`, []any{id}, byID); err != nil {
		return Session{}, err
	}
	return sess, nil
}

func listSessions(ctx context.Context, tx *sql.Tx) ([]Session, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := []Session{}
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		out = append(out, sess)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	byID := make(map[string]*Session, len(out))
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	if err := loadPoints(ctx, tx, ``, nil, byID); err != nil {
		return nil, err
	}
	return out, nil
}

// loadPoints appends the points selected by where to their sessions in
// byID, in the order they were defined.
func loadPoints(ctx context.Context, tx *sql.Tx, where string, args []any, byID map[string]*Session) error {
	rows, err := tx.QueryContext(ctx, `SELECT session_id, id, source, role, label, gain, muted FROM points `+
		where+` ORDER BY session_id, position`, args...)
	if err != nil {
		return fmt.Errorf("read points: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sid string
		var p Point
		if err := rows.Scan(&sid, &p.ID, &p.Source, &p.Role, &p.Label, &p.Gain, &p.Muted); err != nil {
			return fmt.Errorf("read points: %w", err)
		}
		if sess := byID[sid]; sess != nil {
			sess.Points = append(sess.Points, p)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read points: %w", err)
	}
	return nil
}
