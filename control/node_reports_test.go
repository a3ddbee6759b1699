package control

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"diemcau/control/store"
)

// TestNodeReport: a point node reports over its point invite; the report
// is kept for that session and point. Other credentials and bad bodies
// are refused with their reason.
func TestNodeReport(t *testing.T) {
	base, st := startWithStore(t)
	ctx := context.Background()
	if _, err := st.CreateSession(ctx, store.Session{ID: "phien", Layout: "grid", Start: store.StartManual, State: store.StateIdle, Origin: store.OriginAPI,
		Output: store.Output{Width: 320, Height: 180, FPS: 30, Bitrate: 500},
		Points: []store.Point{{ID: "tinh", Source: "tinh", Role: "province", Gain: 1}, {ID: "xa-a", Source: "xa-a", Role: "local", Gain: 1}}}); err != nil {
		t.Fatal(err)
	}
	invite := func(body string) string {
		t.Helper()
		status, resp := do(t, "POST", base+"/api/v1/sessions/phien/invites", "admin-token", body)
		if status != 201 {
			t.Fatalf("invite: %d %v", status, resp)
		}
		return resp["token"].(string)
	}
	point, viewer := invite(`{"name":"Xã A","point":"xa-a"}`), invite(`{"name":"Ông B"}`)

	s := &Server{cfg: Config{}, deps: Deps{Store: st}}
	const good = `{"sources":[{"id":"cam","state":"online"},{"id":"cam2","state":"offline","error":"connection refused"}],"disk_free_bytes":5000000000,"disk_need_bytes":1000000000,"recording":true}`
	tests := []struct {
		name, token, body string
		status            int
	}{
		{"the point's node", point, good, http.StatusNoContent},
		{"a viewer's invite", viewer, good, http.StatusForbidden},
		{"an API token", "admin-token", good, http.StatusUnauthorized},
		{"no token", "", good, http.StatusUnauthorized},
		{"unknown field", point, `{"sources":[],"cpu":3}`, http.StatusBadRequest},
		{"malformed", point, `{"sources":`, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/invite/report", strings.NewReader(tc.body))
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			w := httptest.NewRecorder()
			s.handleNodeReport(w, r)
			if w.Code != tc.status {
				t.Errorf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
		})
	}
	rep, ok := s.NodeReport("phien", "xa-a")
	if !ok || len(rep.Sources) != 2 || rep.Sources[1].State != "offline" || rep.DiskFreeBytes != 5e9 || rep.ReceivedAt.IsZero() {
		t.Errorf("kept report %+v (%v)", rep, ok)
	}
	if _, ok := s.NodeReport("phien", "tinh"); ok {
		t.Error("a report for a point with no node")
	}
}
