package control

import (
	"context"
	"testing"
	"time"

	"diemcau/control/sessions"
	"diemcau/control/store"
	"diemcau/ingest"
	"diemcau/pipeline"
)

// startWithStore runs an API server over a real store in a temp dir and a
// session runtime without mixer or recorder.
func startWithStore(t *testing.T, opts ...func(*Deps)) (string, *store.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	st := openStore(t, ctx, "tinh", "xa-a")
	sources := fakeSources{
		"tinh": {ID: "tinh", State: ingest.StateOnline},
		"xa-a": {ID: "xa-a", State: ingest.StateOffline},
	}
	streams := map[string]*pipeline.Stream{"tinh": pipeline.NewStream("tinh"), "xa-a": pipeline.NewStream("xa-a")}
	mgr := runSessions(t, sessions.Deps{
		Stream: func(id string) (*pipeline.Stream, bool) { s, ok := streams[id]; return s, ok },
		SaveState: func(ctx context.Context, id, state string, at time.Time) error {
			_, err := st.UpdateSessionState(ctx, id, state, at)
			return err
		},
	})
	deps := Deps{Sources: sources, Store: st, Sessions: mgr}
	for _, o := range opts {
		o(&deps)
	}
	return startServer(t, deps), st
}

func TestSessionsAPI(t *testing.T) {
	base, st := startWithStore(t)
	const admin, viewer = "admin-token", "viewer-token"
	body := `{"id":"phien-1","title":"Tiếp công dân","layout":"speaker","focus":"tinh",
		"points":[{"id":"tinh","source":"tinh","role":"province"},{"id":"xa-a","source":"xa-a","gain":0.5}]}`
	steps := []struct {
		name, method, path, token, body string
		status                          int
		field                           string
	}{
		{"create", "POST", "/api/v1/sessions", admin, body, 201, ""},
		{"create again", "POST", "/api/v1/sessions", admin, body, 409, ""},
		{"viewer may not create", "POST", "/api/v1/sessions", viewer, body, 403, ""},
		{"unknown source", "POST", "/api/v1/sessions", admin, `{"id":"x","points":[{"id":"a","source":"nope"}]}`, 400, "points[0].source"},
		{"unknown field", "POST", "/api/v1/sessions", admin, `{"id":"x","layuot":"grid"}`, 400, "layuot"},
		{"wrong type", "POST", "/api/v1/sessions", admin, `{"id":"x","record":"yes"}`, 400, "record"},
		{"malformed", "POST", "/api/v1/sessions", admin, `{"id":`, 400, ""},
		{"get", "GET", "/api/v1/sessions/phien-1", admin, "", 200, ""},
		{"get unknown", "GET", "/api/v1/sessions/nope", admin, "", 404, ""},
		{"bad layout", "PUT", "/api/v1/sessions/phien-1/layout", admin, `{"layout":"mosaic"}`, 400, "layout"},
		{"bad focus", "PUT", "/api/v1/sessions/phien-1/layout", admin, `{"layout":"pip","focus":"nope"}`, 400, "focus"},
		{"layout", "PUT", "/api/v1/sessions/phien-1/layout", admin, `{"layout":"pip","focus":"xa-a"}`, 200, ""},
		{"mute", "PATCH", "/api/v1/sessions/phien-1/points/xa-a", admin, `{"muted":true,"gain":0.8}`, 200, ""},
		{"bad gain", "PATCH", "/api/v1/sessions/phien-1/points/xa-a", admin, `{"gain":-1}`, 400, "gain"},
		{"unknown point", "PATCH", "/api/v1/sessions/phien-1/points/nope", admin, `{"muted":true}`, 404, ""},
		{"bad mode", "POST", "/api/v1/sessions/phien-1/start", admin, `{"mode":"party"}`, 400, "mode"},
		{"rehearse", "POST", "/api/v1/sessions/phien-1/start", admin, `{"mode":"rehearsal"}`, 200, ""},
		{"stop rehearsal", "POST", "/api/v1/sessions/phien-1/stop", admin, "", 200, ""},
		{"start live", "POST", "/api/v1/sessions/phien-1/start", admin, `{"mode":"live"}`, 200, ""},
		{"start twice", "POST", "/api/v1/sessions/phien-1/start", admin, `{"mode":"live"}`, 409, ""},
		{"live cannot be deleted", "DELETE", "/api/v1/sessions/phien-1", admin, "", 409, ""},
		{"output locked while running", "PATCH", "/api/v1/sessions/phien-1", admin, `{"output":{"width":640,"height":360}}`, 409, "output"},
		{"no points while running", "PATCH", "/api/v1/sessions/phien-1", admin, `{"points":[]}`, 400, "points"},
		{"a point leaves while running", "PATCH", "/api/v1/sessions/phien-1", admin, `{"focus":"tinh","points":[{"id":"tinh","source":"tinh"}]}`, 200, ""},
		{"it joins again", "PATCH", "/api/v1/sessions/phien-1", admin, `{"points":[{"id":"tinh","source":"tinh"},{"id":"xa-a","source":"xa-a"}]}`, 200, ""},
		{"title while running", "PATCH", "/api/v1/sessions/phien-1", admin, `{"title":"Phiên 1"}`, 200, ""},
		{"stop", "POST", "/api/v1/sessions/phien-1/stop", admin, "", 200, ""},
		{"stop again", "POST", "/api/v1/sessions/phien-1/stop", admin, "", 409, ""},
		{"ended cannot restart", "POST", "/api/v1/sessions/phien-1/start", admin, `{"mode":"live"}`, 409, ""},
		{"delete", "DELETE", "/api/v1/sessions/phien-1", admin, "", 204, ""},
		{"gone", "GET", "/api/v1/sessions/phien-1", admin, "", 404, ""},
	}
	for _, tc := range steps {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := do(t, tc.method, base+tc.path, tc.token, tc.body)
			wantAPI(t, status, resp, tc.status, tc.field)
			switch tc.name {
			case "create":
				pts := resp["points"].([]any)
				if pts[0].(map[string]any)["gain"] != 1.0 || pts[1].(map[string]any)["gain"] != 0.5 {
					t.Fatalf("gains: %v", pts)
				}
				if pts[0].(map[string]any)["state"] != "online" {
					t.Fatalf("point state: %v", pts[0])
				}
			case "layout":
				if resp["layout"] != "pip" || resp["focus"] != "xa-a" {
					t.Fatalf("layout not applied: %v", resp)
				}
			case "stop rehearsal":
				if resp["state"] != "idle" {
					t.Fatalf("state %v after a rehearsal, want idle", resp["state"])
				}
			case "start live":
				if resp["state"] != "live" {
					t.Fatalf("state %v, want live", resp["state"])
				}
			case "stop":
				if resp["state"] != "ended" {
					t.Fatalf("state %v, want ended", resp["state"])
				}
			}
		})
	}
	ctx := context.Background()
	entries, err := st.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 || entries[0].Path != "/api/v1/sessions/phien-1" || entries[0].Method != "DELETE" || entries[0].Actor != "admin" || entries[0].Result != 204 {
		t.Fatalf("newest audit entry %+v", entries[0])
	}
	var sawCreate bool
	for _, e := range entries {
		if e.Method == "POST" && e.Path == "/api/v1/sessions" && e.Result == 201 && e.Target == "phien-1" {
			sawCreate = true
		}
	}
	if !sawCreate {
		t.Fatal("the create is missing from the audit log")
	}
	status, resp := do(t, "GET", base+"/api/v1/audit?limit=2", admin, "")
	if status != 200 || len(resp["entries"].([]any)) != 2 || resp["next"] == nil {
		t.Fatalf("audit page: %d %v", status, resp)
	}
}
