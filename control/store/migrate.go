package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema, in order: migrations()[i] takes a database from
// version i to i+1. Append only; never edit one that has shipped.
func migrations() []string {
	return []string{
		// 1: the first schema. STRICT tables refuse a value of the wrong type
		// instead of storing it. Points, check reports and invites belong to
		// their session and go with it; audit rows outlive everything.
		`CREATE TABLE sources (
			id         TEXT PRIMARY KEY,
			name       TEXT NOT NULL,
			url        TEXT NOT NULL,
			transport  TEXT NOT NULL,
			origin     TEXT NOT NULL CHECK (origin IN ('config', 'api')),
			created_at TEXT NOT NULL,
			updated_at TEXT NOT NULL
		) STRICT;
		CREATE TABLE sessions (
			id           TEXT PRIMARY KEY,
			title        TEXT NOT NULL,
			case_ref     TEXT NOT NULL,
			layout       TEXT NOT NULL,
			focus        TEXT NOT NULL,
			out_width    INTEGER NOT NULL,
			out_height   INTEGER NOT NULL,
			out_fps      INTEGER NOT NULL,
			out_bitrate  INTEGER NOT NULL,
			record       INTEGER NOT NULL,
			start        TEXT NOT NULL CHECK (start IN ('live', 'rehearsal', 'manual')),
			scheduled_at TEXT,
			state        TEXT NOT NULL CHECK (state IN ('idle', 'rehearsal', 'live', 'ended')),
			origin       TEXT NOT NULL CHECK (origin IN ('config', 'api')),
			created_at   TEXT NOT NULL,
			updated_at   TEXT NOT NULL,
			started_at   TEXT,
			ended_at     TEXT
		) STRICT;
		CREATE TABLE points (
			session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
			id         TEXT NOT NULL,
			position   INTEGER NOT NULL,
			source     TEXT NOT NULL REFERENCES sources (id),
			role       TEXT NOT NULL,
			label      TEXT NOT NULL,
			gain       REAL NOT NULL,
			muted      INTEGER NOT NULL,
			PRIMARY KEY (session_id, id)
		) STRICT;
		CREATE INDEX points_by_source ON points (source);
		CREATE TABLE checks (
			session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
			n           INTEGER NOT NULL,
			kind        TEXT NOT NULL CHECK (kind IN ('manual', 't-24h', 't-2h')),
			started_at  TEXT NOT NULL,
			finished_at TEXT NOT NULL,
			verdict     TEXT NOT NULL,
			points      TEXT NOT NULL,
			server      TEXT,
			PRIMARY KEY (session_id, n)
		) STRICT;
		CREATE TABLE invites (
			id         TEXT PRIMARY KEY,
			session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
			name       TEXT NOT NULL,
			token_hash BLOB NOT NULL UNIQUE,
			created_at TEXT NOT NULL,
			revoked_at TEXT
		) STRICT;
		CREATE INDEX invites_by_session ON invites (session_id);
		CREATE TABLE audit (
			id     INTEGER PRIMARY KEY AUTOINCREMENT,
			at     TEXT NOT NULL,
			actor  TEXT NOT NULL,
			role   TEXT NOT NULL,
			method TEXT NOT NULL,
			path   TEXT NOT NULL,
			target TEXT NOT NULL,
			result INTEGER NOT NULL,
			detail TEXT NOT NULL
		) STRICT;`,
		// 2: a session's planned length, for the disk check before it;
		// 0 is "not given" (the check assumes 4 h). Nanoseconds, as Go's
		// time.Duration, so a value reads back exactly.
		`ALTER TABLE sessions ADD COLUMN duration_ns INTEGER NOT NULL DEFAULT 0 CHECK (duration_ns >= 0);
		CREATE INDEX audit_by_time ON audit (at);`,
		// 3: the archive's witness: each run's manifest as last written
		// (line count, sha256 of the last line, sealed), kept apart from
		// the archive so that a manifest cut short or rewritten shows; and
		// the last verification of each run, so a restart does not hash
		// every archive again. Runs are "{session}/{stamp}" and outlive
		// their session's row.
		`CREATE TABLE run_witness (
			run        TEXT PRIMARY KEY,
			lines      INTEGER NOT NULL CHECK (lines >= 1),
			last_hash  TEXT NOT NULL CHECK (length(last_hash) = 64),
			sealed     INTEGER NOT NULL CHECK (sealed IN (0, 1)),
			updated_at TEXT NOT NULL,
			removed_at TEXT
		) STRICT;
		CREATE TABLE run_verify (
			run         TEXT PRIMARY KEY,
			fingerprint TEXT NOT NULL,
			state       TEXT NOT NULL,
			result      TEXT NOT NULL,
			checked_at  TEXT NOT NULL
		) STRICT;`,
		// 4: a push source may accept encoders without credentials only
		// when it says so; 0 for every source before.
		`ALTER TABLE sources ADD COLUMN allow_anonymous INTEGER NOT NULL DEFAULT 0 CHECK (allow_anonymous IN (0, 1));`,
		// 5: WHIP ingest. An invite may be made for one point of its
		// session ('' keeps the old rights: watch the session); a whip://
		// source keeps the hex sha256 of its publish secret ('' when it has
		// none, or for every other kind).
		`ALTER TABLE invites ADD COLUMN point TEXT NOT NULL DEFAULT '';
		ALTER TABLE sources ADD COLUMN publish_sha256 TEXT NOT NULL DEFAULT '' CHECK (publish_sha256 = '' OR length(publish_sha256) = 64);`,
		// 6: a camera's sub-stream, decoded for small tiles ('' none).
		`ALTER TABLE sources ADD COLUMN sub_url TEXT NOT NULL DEFAULT '';`,
	}
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int { return len(migrations()) }

// migrate applies the pending migrations in one transaction: a crash or an
// error leaves the database at its old version, and running it again on an
// up-to-date database changes nothing.
func (s *Store) migrate(ctx context.Context) error {
	return s.migrateTo(ctx, migrations())
}

func (s *Store) migrateTo(ctx context.Context, steps []string) error {
	var from int
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT`); err != nil {
			return fmt.Errorf("create schema_version: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&from); err != nil {
			return fmt.Errorf("read schema_version: %w", err)
		}
		if from > len(steps) {
			return fmt.Errorf("database schema version %d is newer than this diemcau understands (%d): run a newer diemcau, or point `store` at another file", from, len(steps))
		}
		for v := from; v < len(steps); v++ {
			if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
				return fmt.Errorf("migration %d: %w", v+1, err)
			}
		}
		if from == len(steps) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
			return fmt.Errorf("write schema_version: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, len(steps)); err != nil {
			return fmt.Errorf("write schema_version: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if from < len(steps) {
		s.log.Info("schema migrated", "from", from, "to", len(steps))
	}
	return nil
}
