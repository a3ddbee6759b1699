package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"diemcau/control"
	"diemcau/control/sessions"
	"diemcau/control/store"
	"diemcau/ingest"
	"diemcau/ingest/sim"
	"diemcau/internal/testkit"
	"diemcau/recorder"
)

// Changing a source that feeds a live session, through the API, keeps its
// point in the composite and in the archive: a rename renames without a
// restart, a new url restarts the source and the composite and archive
// follow the new feed; the point's state in the session's status is what
// the composite receives. Wired in-process as serve wires it, with sim
// sources at 320x180, so the mixer's and recorder's own figures are read.
func TestSourceChangeWhileLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a composite")
	}
	h := startChangeHarness(t)
	h.waitFlowing(t, "at start")

	steps := []struct {
		name, body string
		restart    bool
	}{
		{"rename", `{"name":"UBND Tỉnh (mới)"}`, false},
		{"new url", `{"url":"sim://tinh-moi"}`, true},
		{"new name and transport", `{"name":"Tỉnh","transport":"tcp"}`, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			a := h.apiFor(t)
			before, _ := h.reg.Get("tinh")
			status, body := a.call("PATCH", "/api/v1/sources/tinh", st.body)
			if status != 200 {
				t.Fatalf("PATCH: %d %v", status, body)
			}
			after, _ := h.reg.Get("tinh")
			if (after != before) != st.restart {
				t.Errorf("source restarted = %v, want %v", after != before, st.restart)
			}
			h.waitFlowing(t, "after "+st.name)
			if src := a.source("tinh"); src["state"] != "online" {
				t.Errorf("source %v", src)
			}
		})
	}
}

type changeHarness struct {
	api     api
	reg     *ingest.Registry
	mgr     *sessions.Manager
	archive *recorder.Recorder
}

// waitFlowing waits until, from now on, point tinh's pictures reach the
// composite (60 more, 4 s at 15 fps) and its archive stream takes 60 more
// frames, and the session's status shows the point online, as the mixer
// sees it.
func (h *changeHarness) waitFlowing(t *testing.T, when string) {
	t.Helper()
	pictures0, frames0 := h.pictures(t), h.archived(t)
	testkit.Eventually(t, 60*time.Second, "tinh's pictures in the composite "+when, func() bool {
		sig := h.signal(t)
		return sig.Live && sig.Pictures >= pictures0+60
	})
	testkit.Eventually(t, 60*time.Second, "tinh's frames in the archive "+when, func() bool {
		return h.archived(t) >= frames0+60
	})
	_, sess := h.apiFor(t).call("GET", "/api/v1/sessions/demo", "")
	points, _ := sess["points"].([]any)
	if len(points) == 0 {
		t.Fatalf("session %v", sess)
	}
	if p := points[0].(map[string]any); p["id"] != "tinh" || p["state"] != "online" || !h.signal(t).Live {
		t.Fatalf("%s: point %v, mixer %+v: status and composite disagree", when, p, h.signal(t))
	}
}

// apiFor is the API client for test t (a failure ends t, not its parent).
func (h *changeHarness) apiFor(t *testing.T) api {
	a := h.api
	a.t = t
	return a
}

func (h *changeHarness) signal(t *testing.T) sessions.PointSignal {
	t.Helper()
	live, ok := h.mgr.Status("demo")
	if !ok || live.Mixer == nil {
		t.Fatal("session demo not running with a composite")
	}
	for _, p := range live.Mixer.Points {
		if p.ID == "tinh" {
			return p
		}
	}
	return sessions.PointSignal{}
}

func (h *changeHarness) pictures(t *testing.T) uint64 { return h.signal(t).Pictures }

// archived is the frames the live run took from sources/tinh; 0 before
// the run records it.
func (h *changeHarness) archived(t *testing.T) uint64 {
	t.Helper()
	runs := h.archive.LiveRuns()
	if len(runs) > 1 {
		t.Fatalf("%d live runs, want 1", len(runs))
	}
	for _, r := range runs {
		for _, s := range r.Status().Streams {
			if s.Stream == "sources/tinh" {
				return s.Frames
			}
		}
	}
	return 0
}

// startChangeHarness runs the sources, sessions, archive and API of a
// server whose session demo (points tinh and xa-a) is live.
func startChangeHarness(t *testing.T) *changeHarness {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, filepath.Join(dir, "d.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	sim := func(cfg ingest.SourceConfig, log *slog.Logger) (ingest.Source, error) {
		return sim.New(sim.Config{ID: cfg.ID, Name: cfg.Name, URL: cfg.URL, Width: 320, Height: 180, FPS: 15, BitrateKbps: 200, Audio: true, Feed: cfg.Feed}, log)
	}
	reg := ingest.NewRegistry(log, nil, sim)
	for _, id := range []string{"tinh", "xa-a"} {
		src := store.Source{ID: id, Name: id, URL: "sim://" + id, Transport: "auto", Origin: store.OriginConfig}
		if _, err := st.PutSource(ctx, src); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Add(ingest.SourceConfig{ID: id, Name: id, URL: src.URL, Transport: src.Transport}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateSession(ctx, store.Session{
		ID: "demo", Layout: "grid", Start: "manual", Record: true,
		Output: store.Output{Width: 320, Height: 180, FPS: 15, Bitrate: 300},
		Points: []store.Point{{ID: "tinh", Source: "tinh", Gain: 1}, {ID: "xa-a", Source: "xa-a", Gain: 1}},
	}); err != nil {
		t.Fatal(err)
	}
	var cfg Config
	cfg.Pipeline.Encoder, cfg.Pipeline.Decoder = "x264", "avdec"
	media := probeMedia(ctx, &cfg, log)
	if media.codecErr != nil {
		t.Fatalf("no composite on this machine: %v", media.codecErr)
	}
	rc := recorder.DefaultConfig()
	rc.Root, rc.Segment, rc.Part, rc.Fsync, rc.MinFree = filepath.Join(dir, "archive"), 2*time.Second, 500*time.Millisecond, false, 0
	archive, err := recorder.New(rc, log)
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := sessions.New(log, sessions.Deps{
		Stream: reg.Stream,
		SaveState: func(ctx context.Context, id, state string, at time.Time) error {
			_, err := st.UpdateSessionState(ctx, id, state, at)
			return err
		},
		Recorder: sessionRecorder{rec: archive},
		Mixer:    mixerFactory(media, reg.SubStream, log),
	})
	if err != nil {
		t.Fatal(err)
	}
	token, hash, err := control.NewRandomToken()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := control.New(control.Config{Listen: "127.0.0.1:0", Tokens: []control.Token{{Name: "admin", Role: control.RoleAdmin, SHA256: hash}}}, log,
		control.Deps{Sources: reg, SourceAdmin: reg, Store: st, Sessions: mgr})
	if err != nil {
		t.Fatal(err)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, run := range []func(context.Context) error{srv.Run, reg.Run, mgr.Run, archive.Run} {
		g.Go(func() error { return run(gctx) })
	}
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("stopping: %v", err)
		}
		st.Close()
	})
	select {
	case <-srv.Listening():
	case <-time.After(30 * time.Second):
		t.Fatal("API not listening")
	}
	a := api{t: t, base: fmt.Sprintf("http://%s", srv.Addr()), token: token}
	if status, body := a.call("POST", "/api/v1/sessions/demo/start", `{"mode":"live"}`); status != 200 {
		t.Fatalf("start: %d %v", status, body)
	}
	return &changeHarness{api: a, reg: reg, mgr: mgr, archive: archive}
}
