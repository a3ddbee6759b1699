package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// busyTimeout is how long a writer waits for another connection's write
// transaction before giving up with SQLITE_BUSY. Transactions here last
// milliseconds, so seconds of waiting means something is stuck.
const busyTimeout = 5 * time.Second

// Store is diemcau's embedded database. Its methods are safe for concurrent
// use; each is one statement or one transaction.
type Store struct {
	db   *sql.DB
	log  *slog.Logger
	path string
	// now stamps CreatedAt/UpdatedAt; tests replace it.
	now func() time.Time
}

// Open opens (creating if needed) the SQLite database at path and brings its
// schema up to date. path ":memory:" gives a private in-memory database,
// lost on Close. A database written by a newer diemcau is refused.
func Open(ctx context.Context, path string, log *slog.Logger) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: path is empty")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dsn, memory, err := dataSourceName(path)
	if err != nil {
		return nil, fmt.Errorf("store %q: %w", path, err)
	}
	if !memory {
		if err := createPrivate(path); err != nil {
			return nil, fmt.Errorf("store %q: %w", path, err)
		}
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store %q: open: %w", path, err)
	}
	if memory {
		// Every connection to ":memory:" is its own empty database, so the
		// pool must hold exactly one, forever.
		db.SetMaxOpenConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	}
	s := &Store{db: db, log: log.With("component", "store"), path: path, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %q: %w", path, err)
	}
	return s, nil
}

// dataSourceName builds the driver's DSN: a file: URI (so '?' or '#' in a
// path cannot be taken for parameters) carrying the per-connection settings.
// _txlock=immediate makes every read-write transaction take the write lock
// at BEGIN, so two writers queue on busy_timeout instead of one failing at
// once with SQLITE_BUSY when it upgrades a read lock.
func dataSourceName(path string) (dsn string, memory bool, err error) {
	params := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_txlock=immediate", busyTimeout.Milliseconds())
	if path == ":memory:" {
		return "file::memory:?" + params, true, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false, err
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	// WAL lets readers (GET requests) run while one writer commits;
	// synchronous=FULL fsyncs every commit, because the audit log and check
	// reports are records that must survive a power cut.
	return u.String() + "?" + params + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)", false, nil
}

// createPrivate creates the database file readable by its owner only, if it
// does not exist: it holds camera URLs with their passwords. SQLite gives
// the -wal and -shm files the same mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// Close closes the database. Calls in flight fail.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store %q: close: %w", s.path, err)
	}
	return nil
}

// Ping reports whether the database answers (for GET /readyz).
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store %q: ping: %w", s.path, err)
	}
	return nil
}

// write runs fn in a read-write transaction (BEGIN IMMEDIATE) and commits it
// if fn returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// read runs fn in a read-only transaction, so what it reads with several
// queries is one consistent snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// stamp is the store's clock, in UTC and without a monotonic reading, so a
// value read back equals the one returned at write time.
func (s *Store) stamp() time.Time { return s.now().UTC().Round(0) }
