package store

import (
	"database/sql"
	"log/slog"
	"path/filepath"
	"testing"
	"time"
)

func TestSessionDuration(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     time.Duration
		want    time.Duration
		wantErr error
	}{
		{"not given", 0, 0, nil},
		{"two and a half hours", 150 * time.Minute, 150 * time.Minute, nil},
		{"odd value reads back exactly", 90*time.Minute + 1500*time.Millisecond + 7, 90*time.Minute + 1500*time.Millisecond + 7, nil},
		{"negative", -time.Minute, 0, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, s := sessionFixture(t)
			_, err := s.UpdateSession(ctx, "demo", func(sess *Session) error { sess.Duration = tc.set; return nil })
			wantErr(t, err, tc.wantErr)
			got, err := s.GetSession(ctx, "demo")
			if err != nil {
				t.Fatal(err)
			}
			if got.Duration != tc.want {
				t.Errorf("duration = %v, want %v", got.Duration, tc.want)
			}
			list, err := s.ListSessions(ctx)
			if err != nil || len(list) != 1 || list[0].Duration != tc.want {
				t.Errorf("listed %+v (%v), want duration %v", list, err, tc.want)
			}
		})
	}
}

// A database of schema 1 (before sessions had a duration) opens, migrates,
// keeps its sessions with no duration, and then stores one.
func TestMigrationFromSchema1(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "old.db")
	dsn, _, err := dataSourceName(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := createPrivate(path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	old := &Store{db: db, log: slog.New(slog.DiscardHandler), path: path, now: time.Now}
	if err := old.migrateTo(ctx, migrations()[:1]); err != nil {
		t.Fatal(err)
	}
	// What diemcau of schema 1 wrote, column for column.
	const at = "2025-06-01T08:00:00.000000000Z"
	for _, q := range []string{
		`INSERT INTO sources VALUES ('tinh', 'Tỉnh', 'sim://tinh', 'auto', 'config', '` + at + `', '` + at + `')`,
		`INSERT INTO sessions (id, title, case_ref, layout, focus, out_width, out_height, out_fps, out_bitrate, record, start,
			scheduled_at, state, origin, created_at, updated_at) VALUES ('demo', 'Phiên', '', 'grid', '', 1280, 720, 30, 2500, 1,
			'live', NULL, 'idle', 'api', '` + at + `', '` + at + `')`,
		`INSERT INTO points VALUES ('demo', 'tinh', 0, 'tinh', 'province', 'UBND Tỉnh', 1.0, 0)`,
		`INSERT INTO audit (at, actor, role, method, path, target, result, detail) VALUES ('` + at + `', 'admin', 'admin', 'POST', '/api/v1/sessions', 'demo', 201, '')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s := openAt(t, path)
	if _, v := schemaRows(t, s); v != SchemaVersion() || v < 2 {
		t.Fatalf("schema version %d after migrating, want %d", v, SchemaVersion())
	}
	sess, err := s.GetSession(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if sess.Duration != 0 || sess.Title != "Phiên" || len(sess.Points) != 1 || sess.Output.Bitrate != 2500 {
		t.Fatalf("migrated session %+v", sess)
	}
	if _, err := s.UpdateSession(ctx, "demo", func(x *Session) error { x.Duration = 2 * time.Hour; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetSession(ctx, "demo"); got.Duration != 2*time.Hour {
		t.Errorf("duration after update = %v", got.Duration)
	}
	if a, err := s.ListAudit(ctx, 0, 0); err != nil || len(a) != 1 {
		t.Errorf("audit after migrating: %+v, %v", a, err)
	}
	// The column refuses what the type cannot mean, whoever writes it.
	if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET duration_ns = -1 WHERE id = 'demo'`); err == nil {
		t.Error("a negative duration_ns was stored")
	}
}

// The config file's duration is stored, and a changed one replaces it.
func TestLoadConfigDuration(t *testing.T) {
	ctx := testCtx(t)
	s := openAt(t, ":memory:")
	srcs := []Source{{ID: "tinh", URL: "sim://tinh", Transport: "auto"}}
	for _, d := range []time.Duration{2 * time.Hour, 3 * time.Hour, 0} {
		sess := Session{ID: "demo", Layout: "grid", Start: StartLive, Output: Output{1280, 720, 30, 2500}, Duration: d,
			Points: []Point{{ID: "tinh", Source: "tinh", Role: "local", Label: "tinh", Gain: 1}}}
		if _, err := s.LoadConfig(ctx, srcs, []Session{sess}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSession(ctx, "demo")
		if err != nil || got.Duration != d {
			t.Fatalf("after loading duration %v: %v (%v)", d, got.Duration, err)
		}
	}
}
