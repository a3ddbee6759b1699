package control

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"diemcau/control/sessions"
	"diemcau/control/store"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// testTokens are the API's bearer tokens in these tests, one per role:
// "admin-token", "op-token" and "viewer-token".
func testTokens() []Token {
	return []Token{
		{Name: "admin", Role: RoleAdmin, SHA256: sha256.Sum256([]byte("admin-token"))},
		{Name: "op", Role: RoleOperator, SHA256: sha256.Sum256([]byte("op-token"))},
		{Name: "tv", Role: RoleViewer, SHA256: sha256.Sum256([]byte("viewer-token"))},
	}
}

// openStore opens a store in the test's temp dir, closed when the test
// ends, holding a sim:// source from the config for each id in sources.
func openStore(t *testing.T, ctx context.Context, sources ...string) *store.Store {
	t.Helper()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "d.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, id := range sources {
		if _, err := st.PutSource(ctx, store.Source{ID: id, URL: "sim://" + id, Transport: "auto", Origin: store.OriginConfig}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// createSession stores a grid session started by hand, with a point of
// gain 1 on the source of the same id for each of points.
func createSession(t *testing.T, ctx context.Context, st *store.Store, id string, points ...string) store.Session {
	t.Helper()
	s := store.Session{ID: id, Layout: "grid", Start: "manual"}
	for _, p := range points {
		s.Points = append(s.Points, store.Point{ID: p, Source: p, Gain: 1})
	}
	sess, err := st.CreateSession(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

// runSessions runs a session runtime over deps until the test ends.
func runSessions(t *testing.T, deps sessions.Deps) *sessions.Manager {
	t.Helper()
	mgr, err := sessions.New(slog.New(slog.DiscardHandler), deps)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "sessions", mgr.Run)
	return mgr
}

// composingOn is a session runtime's deps whose every session runs on
// comp, each point on a stream of its own.
func composingOn(comp sessions.Composite) sessions.Deps {
	return sessions.Deps{
		Stream: func(id string) (*pipeline.Stream, bool) { return pipeline.NewStream(id), true },
		Mixer:  func(sessions.Spec, map[string]*pipeline.Stream) (sessions.Composite, error) { return comp, nil },
	}
}

// wantAPI checks an API answer's status and, where field is not empty, the
// field its error names.
func wantAPI(t *testing.T, status int, resp map[string]any, wantStatus int, field string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d: %v", status, wantStatus, resp)
	}
	if field != "" {
		e, _ := resp["error"].(map[string]any)
		if e["field"] != field {
			t.Fatalf("error field %v, want %q: %v", e["field"], field, resp)
		}
	}
}

// wantMetrics checks that a scrape holds each of the lines (or line starts).
func wantMetrics(t *testing.T, scraped string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(scraped, w) {
			t.Errorf("metrics lack %s", w)
		}
	}
}
