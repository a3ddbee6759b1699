package control

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"diemcau/control/sessions"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// TestPointSoundShown: the composite's reading of each point's sound is in
// the session status per point, in the levels endpoint and in the metrics;
// a point with no sound reaching the mix has no level, and the silent one
// says for how long.
func TestPointSoundShown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := openStore(t, ctx, "tinh", "xa-a")
	for _, id := range []string{"phien", "cho"} {
		createSession(t, ctx, st, id, "tinh", "xa-a")
	}
	comp := &statsComposite{stream: pipeline.NewStream("c"), stats: sessions.CompositeStats{FPS: 30, Encoder: "x264enc",
		Points: []sessions.PointSignal{
			{ID: "tinh", Live: true, Pictures: 100, Sound: sessions.PointSound{Measured: true, PeakDBFS: -10.43, RMSDBFS: -13.46}},
			{ID: "xa-a", Live: true, Pictures: 100, Sound: sessions.PointSound{
				PeakDBFS: -100, RMSDBFS: -100, Silent: true, QuietSince: time.Now().Add(-12 * time.Second)}},
		}}}
	mgr := runSessions(t, composingOn(comp))
	sess, err := st.GetSession(ctx, "phien")
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(SpecOf(sess), sessions.StateRehearsal); err != nil {
		t.Fatal(err)
	}
	base := startServer(t, Deps{Sources: fakeSources{}, Store: st, Sessions: mgr})

	checkPoints := func(t *testing.T, where string, points []any) {
		t.Helper()
		if len(points) != 2 {
			t.Fatalf("%s: %d points", where, len(points))
		}
		tinh, xa := points[0].(map[string]any), points[1].(map[string]any)
		lvl, _ := tinh["level"].(map[string]any)
		if lvl == nil || lvl["peak_dbfs"] != -10.4 || lvl["rms_dbfs"] != -13.5 || tinh["silent"] != false {
			t.Errorf("%s: tinh %v", where, tinh)
		}
		if _, has := xa["level"]; has || xa["silent"] != true {
			t.Errorf("%s: xa-a %v, want silent without a level", where, xa)
		}
		if s, _ := xa["silent_for_s"].(float64); s < 11 || s > 14 {
			t.Errorf("%s: xa-a silent for %v s, want 12", where, xa["silent_for_s"])
		}
	}
	code, body := do(t, "GET", base+"/api/v1/sessions/phien", "op-token", "")
	if code != http.StatusOK {
		t.Fatalf("session status: %d %v", code, body)
	}
	points, _ := body["points"].([]any)
	checkPoints(t, "session status", points)

	code, body = do(t, "GET", base+"/api/v1/sessions/phien/levels", "op-token", "")
	if code != http.StatusOK || body["running"] != true {
		t.Fatalf("levels: %d %v", code, body)
	}
	points, _ = body["points"].([]any)
	checkPoints(t, "levels", points)
	if p0 := points[0].(map[string]any); p0["id"] != "tinh" {
		t.Errorf("levels: first point %v", p0)
	}

	for _, tc := range []struct {
		path, token string
		code        int
	}{
		{"/api/v1/sessions/cho/levels", "op-token", http.StatusOK},
		{"/api/v1/sessions/nope/levels", "op-token", http.StatusNotFound},
		{"/api/v1/sessions/phien/levels", "viewer-token", http.StatusForbidden},
		{"/api/v1/sessions/phien/levels", "", http.StatusUnauthorized},
	} {
		code, body := do(t, "GET", base+tc.path, tc.token, "")
		if code != tc.code {
			t.Errorf("GET %s as %q: %d %v, want %d", tc.path, tc.token, code, body, tc.code)
		}
		if tc.code == http.StatusOK && (body["running"] != false || len(body["points"].([]any)) != 0) {
			t.Errorf("a session not running: %v", body)
		}
	}

	raw := testkit.Scrape(t, base)
	wantMetrics(t, raw,
		`diemcau_point_audio_peak_dbfs{point="tinh",session="phien"} -10.43`,
		`diemcau_point_audio_rms_dbfs{point="tinh",session="phien"} -13.46`,
		`diemcau_point_audio_silent{point="tinh",session="phien"} 0`,
		`diemcau_point_audio_silent{point="xa-a",session="phien"} 1`,
	)
	if strings.Contains(raw, `diemcau_point_audio_rms_dbfs{point="xa-a"`) {
		t.Error("metrics give a level for a point whose sound does not arrive")
	}
}
