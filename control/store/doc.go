// Package store is diemcau's embedded database: sources, sessions and their
// points, pre-session check reports, invites and the audit log, in one
// SQLite file (modernc.org/sqlite, pure Go, through database/sql).
//
// # Opening
//
//	s, err := store.Open(ctx, cfg.Store, log) // ":memory:" for a throw-away store
//	defer s.Close()
//
// Open creates the file if needed and applies the schema migrations that
// are missing, in one transaction; a database written by a newer diemcau is
// refused with an error saying so. The store starts no goroutines, so it has
// no Run: its life is Open to Close. Ping serves GET /readyz.
//
// The file is in WAL mode (reads do not wait for the writer), with
// foreign keys on, a 5 s busy timeout, and synchronous=FULL: every commit
// is fsynced, because check reports and the audit log are records. Every
// read-write transaction begins IMMEDIATE, so concurrent writers queue
// instead of failing with SQLITE_BUSY. All methods are safe for concurrent
// use; each is one statement or one transaction.
//
// # Entities and methods
//
// The structs carry the snake_case JSON names of docs/api.md. Times come
// back in UTC; timestamps the store sets (CreatedAt, UpdatedAt) use its
// clock.
//
//   - Source: CreateSource (ErrConflict if the id is taken), PutSource
//     (upsert), UpdateSource (read-modify-write in one transaction, for a
//     PATCH), GetSource, ListSources (by id), DeleteSource (an *InUseError
//     naming the sessions whose points use it). URL is stored with its
//     credentials: redact before showing or logging it.
//   - Session with its Points (in the order given): CreateSession,
//     PutSession, UpdateSession, GetSession, ListSessions, DeleteSession
//     (ErrConflict while live; takes its checks and invites with it).
//     Put/Update keep State, StartedAt and EndedAt, which only
//     UpdateSessionState changes (it does not police transitions: that is
//     the runtime's rule). UpdatePoint changes gain, muted or label of one
//     point; SetLayout changes layout and focus (a point id, or "").
//     Point.Gain is stored as given; 0 is silence, so callers default it to 1.
//     Session.Duration is the planned length (0: not given), exact to the
//     nanosecond; it has no JSON name: the API writes it as "2h30m".
//   - LoadConfig makes the store agree with the config file at start: config
//     entries win over API ones with the same id, config entries dropped
//     from the file are removed (a source still used by an API session is
//     kept), and one line per such change is returned for the log.
//   - CheckReport: AddCheck numbers a session's reports 1, 2, 3…;
//     ListChecks (oldest first), GetCheck(session, n), and
//     HasCheck(session, kind, since) so the scheduler does not run the
//     t-24h or t-2h check twice, yet runs it again for a rescheduled session.
//   - Invite: only the token's SHA-256 is stored. AddInvite (random id when
//     empty), ListInvites (revoked ones too), RevokeInvite (idempotent),
//     FindInviteByTokenHash (returns revoked invites too: the caller refuses
//     those, and invites of ended sessions).
//   - Audit: AppendAudit assigns increasing ids; ListAudit(before, limit)
//     pages newest first, before being the last id of the previous page
//     (0 for the first). The caller keeps tokens and passwords out of it.
//     PruneAudit(cutoff) deletes entries older than cutoff. AuditPruner
//     (NewAuditPruner, Run) is a separate component that calls it at
//     start and daily for a retention (DefaultAuditRetention, 400 days;
//     0 keeps forever), logging the count; the Store itself still starts
//     no goroutine.
//   - Archive runs ("{session}/{stamp}"): WitnessManifest records a run's
//     manifest as the recorder writes it (line count, sha256 of the last
//     line, sealed); a record only moves forward and a sealed one is frozen
//     (ErrConflict), except that a first line starts a new run of the name.
//     GetRunWitness reads it for repair and verify; RunRemoved marks a run
//     retention deleted. PutRunVerify / GetRunVerify keep each run's last
//     verification (its fingerprint and result) across restarts.
//
// # Errors
//
// Errors name the entity and id (`session "demo": not found`) and wrap one
// of ErrNotFound, ErrConflict or ErrInvalid, checked with errors.Is. The API
// maps them to 404, 409 and 400; ErrInvalid is a last guard, the API
// validates first and names the field.
//
// # Schema changes
//
// Append a statement to migrations() in migrate.go; never edit one that
// has shipped. schema_version holds the version reached.
package store
