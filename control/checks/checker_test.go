package checks

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"diemcau/control/store"
	"diemcau/ingest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTestChecker(t *testing.T, webrtc func(context.Context, string) error) (*Checker, *store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "d.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, id := range []string{"good", "weak", "gone", "drifty"} {
		if _, err := st.PutSource(ctx, store.Source{ID: id, URL: "rtsp://u:secret@192.0.2.1/" + id, Transport: "auto", Origin: store.OriginConfig}); err != nil {
			t.Fatal(err)
		}
	}
	statuses := map[string]ingest.Status{
		"good":   {ID: "good", State: ingest.StateOnline},
		"weak":   {ID: "weak", State: ingest.StateOnline, PacketsLost: 12},
		"drifty": {ID: "drifty", State: ingest.StateOnline},
		"gone":   {ID: "gone", State: ingest.StateError, URL: "rtsp://***@192.0.2.1/gone", Error: "wrong username or password"},
	}
	c, err := New(Config{ProbeFor: time.Millisecond, ArchiveRoot: t.TempDir()}, slog.New(slog.DiscardHandler), Deps{
		Store:  st,
		Source: func(id string) (ingest.Status, bool) { s, ok := statuses[id]; return s, ok },
		Probe: func(_ context.Context, id string, _ time.Duration) (ingest.ProbeReport, error) {
			rep := ingest.ProbeReport{Connected: true, Verdict: ingest.CheckPass, BitrateKbps: 1200}
			switch id {
			case "weak":
				rep.Checks = []ingest.ProbeCheck{{Name: "fps", Result: ingest.CheckWarn, Message: "fps 12 < 20"}}
			case "drifty":
				rep.Checks = []ingest.ProbeCheck{{Name: "clock-rate", Result: ingest.CheckWarn,
					Message: "clock drift: the camera's video clock runs 3.0 % slower than the server's"}}
			}
			return rep, nil
		},
		WebRTC:  webrtc,
		Encoder: func() (string, bool) { return "x264enc", false },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, st
}

func addSession(t *testing.T, st *store.Store, id string, sources []string, at *time.Time) {
	t.Helper()
	sess := store.Session{ID: id, Layout: "grid", Start: store.StartManual, State: store.StateIdle, Origin: store.OriginAPI,
		Output: store.Output{Width: 320, Height: 180, FPS: 30, Bitrate: 500}, ScheduledAt: at}
	for _, s := range sources {
		sess.Points = append(sess.Points, store.Point{ID: s, Source: s, Role: "local", Label: s, Gain: 1})
	}
	if _, err := st.CreateSession(context.Background(), sess); err != nil {
		t.Fatal(err)
	}
}

func TestCheckGradesEachPoint(t *testing.T) {
	c, st := newTestChecker(t, func(context.Context, string) error { return nil })
	addSession(t, st, "s", []string{"good", "weak", "gone", "drifty"}, nil)
	rep, err := c.Check(context.Background(), "s", store.CheckManual)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ verdict, reason string }{
		"good":   {store.VerdictPass, ""},
		"weak":   {store.VerdictWarn, "fps 12 < 20"},
		"gone":   {store.VerdictFail, "wrong username or password"},
		"drifty": {store.VerdictWarn, "clock drift: the camera's video clock runs 3.0 % slower"},
	}
	for _, p := range rep.Points {
		w := want[p.PointID]
		if p.Verdict != w.verdict || (w.reason != "" && !strings.Contains(strings.Join(p.Reasons, "|"), w.reason)) {
			t.Errorf("point %s: %s %v, want %s with %q", p.PointID, p.Verdict, p.Reasons, w.verdict, w.reason)
		}
		if strings.Contains(strings.Join(p.Reasons, " ")+string(p.Probe), "secret") {
			t.Errorf("point %s: report leaks a password", p.PointID)
		}
	}
	if rep.Verdict != store.VerdictFail || rep.N != 1 {
		t.Fatalf("report verdict %s n %d", rep.Verdict, rep.N)
	}
	var srv ServerCheck
	if err := json.Unmarshal(rep.Server, &srv); err != nil || srv.Encoder != "x264enc" || srv.WebRTC != "pass" || srv.Cores == 0 {
		t.Fatalf("server part %+v (%v)", srv, err)
	}
	if got, _ := st.ListChecks(context.Background(), "s"); len(got) != 1 {
		t.Fatalf("%d reports stored", len(got))
	}
}

func TestWebRTCFailureFailsTheServerSide(t *testing.T) {
	c, st := newTestChecker(t, func(context.Context, string) error { return errors.New("no frame in 10s") })
	addSession(t, st, "s", []string{"good"}, nil)
	rep, err := c.Check(context.Background(), "s", store.CheckManual)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != store.VerdictFail || !strings.Contains(string(rep.Server), "no frame") {
		t.Fatalf("verdict %s server %s", rep.Verdict, rep.Server)
	}
}

func TestSchedulerRunsEachAutomaticCheckOnce(t *testing.T) {
	c, st := newTestChecker(t, nil)
	ctx := context.Background()
	at := time.Now().Add(90 * time.Minute)  // inside T-2h and T-24h
	later := time.Now().Add(30 * time.Hour) // neither due yet
	addSession(t, st, "soon", []string{"good"}, &at)
	addSession(t, st, "later", []string{"good"}, &later)
	c.runDue(ctx, time.Now())
	c.runDue(ctx, time.Now()) // a second pass must not repeat them
	got, _ := st.ListChecks(ctx, "soon")
	kinds := map[string]int{}
	for _, r := range got {
		kinds[r.Kind]++
	}
	if kinds[store.CheckT24h] != 1 || kinds[store.CheckT2h] != 1 || len(got) != 2 {
		t.Fatalf("checks of the near session: %v", kinds)
	}
	if got, _ := st.ListChecks(ctx, "later"); len(got) != 0 {
		t.Fatalf("a session 30 h away was checked: %d", len(got))
	}
}

func TestFreeBytesOfMissingDirUsesParent(t *testing.T) {
	if n, err := FreeBytes(filepath.Join(t.TempDir(), "not", "yet")); err != nil || n <= 0 {
		t.Fatalf("free = %d, %v", n, err)
	}
}
