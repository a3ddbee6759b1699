package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testClock ticks one second per reading, so every stamp differs.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openAt opens path with the test clock and closes it at the end of the test.
func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(testCtx(t), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	clock := &testClock{t: time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)}
	s.now = clock.now
	t.Cleanup(func() { s.Close() })
	return s
}

func openTemp(t *testing.T) *Store {
	return openAt(t, filepath.Join(t.TempDir(), "diemcau.db"))
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil && err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("error = %v, want one that is %v", err, want)
	}
}

func schemaRows(t *testing.T, s *Store) (rows, version int) {
	t.Helper()
	err := s.db.QueryRow(`SELECT COUNT(*), COALESCE(MAX(version), 0) FROM schema_version`).Scan(&rows, &version)
	if err != nil {
		t.Fatal(err)
	}
	return rows, version
}

func TestOpenSettings(t *testing.T) {
	for _, tc := range []struct {
		name, path, journal string
	}{
		{"file", "diemcau.db", "wal"},
		{"path with ? and #", "odd?name#1.db", "wal"},
		{"memory", ":memory:", "memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path != ":memory:" {
				path = filepath.Join(t.TempDir(), path)
			}
			s := openAt(t, path)
			// One connection is enough to see the per-connection pragmas.
			conn, err := s.db.Conn(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			var journal string
			var fk, busy int
			if err := conn.QueryRowContext(testCtx(t), `PRAGMA journal_mode`).Scan(&journal); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRowContext(testCtx(t), `PRAGMA foreign_keys`).Scan(&fk); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRowContext(testCtx(t), `PRAGMA busy_timeout`).Scan(&busy); err != nil {
				t.Fatal(err)
			}
			conn.Close() // the memory store's only connection
			if journal != tc.journal || fk != 1 || busy != int(busyTimeout.Milliseconds()) {
				t.Errorf("journal_mode=%s foreign_keys=%d busy_timeout=%d, want %s 1 %d", journal, fk, busy, tc.journal, busyTimeout.Milliseconds())
			}
			if err := s.Ping(testCtx(t)); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})
	}
}

func TestFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "diemcau.db")
	s := openAt(t, path)
	seed(t, s) // writes the WAL too
	for _, name := range []string{path, path + "-wal"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s: mode %o, want 600 (it holds camera passwords)", filepath.Base(name), mode)
		}
	}
}

func TestMigrationsTwiceAreNoOp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "diemcau.db")
	s := openAt(t, path)
	if err := s.migrate(testCtx(t)); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if rows, v := schemaRows(t, s); rows != 1 || v != SchemaVersion() {
		t.Fatalf("schema_version has %d rows, version %d; want 1 row, %d", rows, v, SchemaVersion())
	}
	s.Close()
	s = openAt(t, path)
	if rows, v := schemaRows(t, s); rows != 1 || v != SchemaVersion() {
		t.Fatalf("after reopen: schema_version has %d rows, version %d; want 1 row, %d", rows, v, SchemaVersion())
	}
}

func TestMigrationFailureRollsBack(t *testing.T) {
	s := openTemp(t)
	steps := append(migrations(), `CREATE TABLE half_done (x INTEGER); SELECT no_such_function()`)
	err := s.migrateTo(testCtx(t), steps)
	want := fmt.Sprintf("migration %d", SchemaVersion()+1)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("migrateTo = %v, want an error naming %s", err, want)
	}
	if _, v := schemaRows(t, s); v != SchemaVersion() {
		t.Errorf("version = %d after a failed migration, want %d", v, SchemaVersion())
	}
	var n int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name = 'half_done'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("table of the failed migration exists (n=%d, err=%v)", n, err)
	}
}

func TestNewerDatabaseIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "diemcau.db")
	s := openAt(t, path)
	if err := s.migrateTo(testCtx(t), append(migrations(), `CREATE TABLE from_the_future (x INTEGER)`)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(testCtx(t), path, nil)
	if err == nil || !strings.Contains(err.Error(), "newer than this diemcau") {
		t.Fatalf("Open of a newer database = %v, want a refusal", err)
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, path := range []string{"", filepath.Join(t.TempDir(), "no", "such", "dir", "x.db")} {
		if s, err := Open(testCtx(t), path, nil); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// seed fills a store with one of everything.
func seed(t *testing.T, s *Store) {
	t.Helper()
	ctx := testCtx(t)
	mustDo(t, func() error {
		_, err := s.CreateSource(ctx, Source{ID: "tinh", Name: "Điểm cầu Tỉnh", URL: "rtsp://u:p@192.0.2.10/s1", Transport: "tcp"})
		return err
	})
	mustDo(t, func() error {
		_, err := s.CreateSource(ctx, Source{ID: "xa-a", URL: "sim://xa-a", Transport: "auto"})
		return err
	})
	sched := time.Date(2025, 6, 3, 1, 30, 0, 0, time.UTC)
	mustDo(t, func() error {
		_, err := s.CreateSession(ctx, Session{ID: "demo", Title: "Tiếp công dân", CaseRef: "HS-12", Layout: "speaker", Focus: "tinh",
			Output: Output{1280, 720, 30, 2500}, Record: true, Start: StartManual, ScheduledAt: &sched,
			Points: []Point{{ID: "tinh", Source: "tinh", Role: "province", Label: "UBND Tỉnh", Gain: 1}, {ID: "xa-a", Source: "xa-a", Role: "local", Gain: 0.8, Muted: true}}})
		return err
	})
	mustDo(t, func() error { _, err := s.UpdateSessionState(ctx, "demo", StateLive, sched); return err })
	mustDo(t, func() error { _, err := s.AddCheck(ctx, sampleCheck("demo", CheckT24h)); return err })
	mustDo(t, func() error {
		_, err := s.AddInvite(ctx, Invite{SessionID: "demo", Name: "Citizen", TokenHash: [32]byte{1, 2, 3}})
		return err
	})
	mustDo(t, func() error {
		_, err := s.AppendAudit(ctx, Audit{Actor: "admin", Role: "admin", Method: "POST", Path: "/api/v1/sessions", Target: "demo", Result: 201})
		return err
	})
}

func mustDo(t *testing.T, fn func() error) {
	t.Helper()
	if err := fn(); err != nil {
		t.Fatal(err)
	}
}

// snapshot reads everything seed wrote.
type snapshot struct {
	Sources  []Source
	Sessions []Session
	Checks   []CheckReport
	Invites  []Invite
	Audit    []Audit
}

func takeSnapshot(t *testing.T, s *Store) snapshot {
	t.Helper()
	ctx := testCtx(t)
	var sn snapshot
	var err error
	if sn.Sources, err = s.ListSources(ctx); err != nil {
		t.Fatal(err)
	}
	if sn.Sessions, err = s.ListSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if sn.Checks, err = s.ListChecks(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	if sn.Invites, err = s.ListInvites(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	if sn.Audit, err = s.ListAudit(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	return sn
}

func TestRestartKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "diemcau.db")
	s := openAt(t, path)
	seed(t, s)
	before := takeSnapshot(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	after := takeSnapshot(t, openAt(t, path))
	if len(after.Sources) != 2 || len(after.Sessions) != 1 || len(after.Sessions[0].Points) != 2 ||
		len(after.Checks) != 1 || len(after.Invites) != 1 || len(after.Audit) != 1 {
		t.Fatalf("after restart: %+v", after)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("restart changed the data:\nbefore %+v\nafter  %+v", before, after)
	}
	if after.Sessions[0].State != StateLive || after.Sessions[0].StartedAt == nil {
		t.Errorf("run-time state lost: %+v", after.Sessions[0])
	}
	if after.Invites[0].TokenHash != ([32]byte{1, 2, 3}) {
		t.Errorf("token hash = %x", after.Invites[0].TokenHash)
	}
}

// tableCount is how many rows table holds (a constant in the tests).
func tableCount(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
