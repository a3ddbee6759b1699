package control

import (
	"context"
	"testing"
	"time"

	"diemcau/control/sessions"
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
	st := openStore(t, ctx, "tinh")
	sess := createSession(t, ctx, st, "phien", "tinh")
	mgr := runSessions(t, composingOn(comp))
	if err := mgr.Start(SpecOf(sess), sessions.StateRehearsal); err != nil {
		t.Fatal(err)
	}
	return startServer(t, Deps{Sources: sources, Store: st, Sessions: mgr})
}
