package control

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"diemcau/control/sessions"
	"diemcau/control/store"
	"diemcau/ingest"
	"diemcau/pipeline"
)

// A running point's state is what the composite receives from it, not what
// its source says: a source online whose pictures do not reach the mix
// (its tile shows the slate) is offline in the session's status.
func TestRunningPointStateFollowsTheComposite(t *testing.T) {
	tests := []struct {
		name   string
		source ingest.State
		signal *sessions.PointSignal // nil: the composite does not hold the point
		want   ingest.State
	}{
		{"pictures arrive", ingest.StateOnline, &sessions.PointSignal{ID: "tinh", Live: true, Pictures: 250}, ingest.StateOnline},
		{"source online, slate shown", ingest.StateOnline, &sessions.PointSignal{ID: "tinh", Live: false, Pictures: 250}, ingest.StateOffline},
		{"source offline, pictures arrive", ingest.StateOffline, &sessions.PointSignal{ID: "tinh", Live: true, Pictures: 9}, ingest.StateOnline},
		{"joined, no picture yet", ingest.StateOnline, &sessions.PointSignal{ID: "tinh", Live: true}, ingest.StateConnecting},
		{"slate and a reason", ingest.StateError, &sessions.PointSignal{ID: "tinh"}, ingest.StateError},
		{"not in the composite", ingest.StateOnline, nil, ingest.StateOffline},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			comp := &statsComposite{stream: pipeline.NewStream("c")}
			if tc.signal != nil {
				comp.stats.Points = []sessions.PointSignal{*tc.signal}
			}
			base := startRunning(t, comp, fakeSources{"tinh": {ID: "tinh", State: tc.source}})
			status, body := do(t, "GET", base+"/api/v1/sessions/phien", "op-token", "")
			if status != 200 {
				t.Fatalf("status %d: %v", status, body)
			}
			points, _ := body["points"].([]any)
			if len(points) != 1 {
				t.Fatalf("points %v", body["points"])
			}
			if got := points[0].(map[string]any)["state"]; got != string(tc.want) {
				t.Fatalf("point state %v, want %s", got, tc.want)
			}
		})
	}
}

// startRunning serves a session "phien" of one point "tinh", running as a
// rehearsal on comp.
func startRunning(t *testing.T, comp sessions.Composite, sources fakeSources) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "d.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.PutSource(ctx, store.Source{ID: "tinh", URL: "sim://tinh", Transport: "auto", Origin: store.OriginConfig}); err != nil {
		t.Fatal(err)
	}
	sess, err := st.CreateSession(ctx, store.Session{ID: "phien", Layout: "grid", Start: "manual", Points: []store.Point{{ID: "tinh", Source: "tinh", Gain: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := sessions.New(slog.New(slog.DiscardHandler), sessions.Deps{
		Stream: func(string) (*pipeline.Stream, bool) { return pipeline.NewStream("tinh"), true },
		Mixer:  func(sessions.Spec, map[string]*pipeline.Stream) (sessions.Composite, error) { return comp, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	mctx, mcancel := context.WithCancel(context.Background())
	mdone := make(chan struct{})
	go func() { _ = mgr.Run(mctx); close(mdone) }()
	t.Cleanup(func() { mcancel(); <-mdone })
	if err := mgr.Start(SpecOf(sess), sessions.StateRehearsal); err != nil {
		t.Fatal(err)
	}
	return startServer(t, Deps{Sources: sources, Store: st, Sessions: mgr})
}
