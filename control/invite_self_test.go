package control

import (
	"context"
	"testing"

	"diemcau/control/store"
)

// TestInviteSelf: an invite token tells its page what it is for; a point's
// invite also where to publish; anything else is 401.
func TestInviteSelf(t *testing.T) {
	base, st := startWithStore(t)
	ctx := context.Background()
	if _, err := st.CreateSession(ctx, store.Session{ID: "phien", Title: "Tiếp dân", Layout: "grid", Start: store.StartManual, State: store.StateIdle, Origin: store.OriginAPI,
		Output: store.Output{Width: 320, Height: 180, FPS: 30, Bitrate: 500},
		Points: []store.Point{{ID: "tinh", Source: "tinh", Role: "province", Label: "UBND Tỉnh", Gain: 1}, {ID: "xa-a", Source: "xa-a", Role: "local", Label: "Xã A", Gain: 1}}}); err != nil {
		t.Fatal(err)
	}
	const admin = "admin-token"
	invite := func(body string) (id, token string) {
		t.Helper()
		status, resp := do(t, "POST", base+"/api/v1/sessions/phien/invites", admin, body)
		if status != 201 {
			t.Fatalf("create %s: %d %v", body, status, resp)
		}
		return resp["id"].(string), resp["token"].(string)
	}
	pointID, pointTok := invite(`{"name":"Xã A","point":"xa-a"}`)
	_, viewerTok := invite(`{"name":"Ông B"}`)

	tests := []struct {
		name, token string
		status      int
		want        map[string]string
		absent      []string
	}{
		{"a point's invite", pointTok, 200, map[string]string{
			"session": "phien", "title": "Tiếp dân", "point": "xa-a", "point_label": "Xã A", "source": "xa-a",
			"whip": "/whip/ingest/xa-a", "whep": "/whep/sessions/phien/points/xa-a"}, []string{"token"}},
		{"a viewer's invite", viewerTok, 200, map[string]string{"session": "phien", "whep": "/whep/sessions/phien"}, []string{"whip", "point", "source", "token"}},
		{"an API token is not an invite", admin, 401, nil, nil},
		{"no token", "", 401, nil, nil},
		{"unknown token", "not-a-token-at-all", 401, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := do(t, "GET", base+"/api/v1/invite", tc.token, "")
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, resp)
			}
			for k, v := range tc.want {
				if resp[k] != v {
					t.Errorf("%s = %v, want %q", k, resp[k], v)
				}
			}
			for _, k := range tc.absent {
				if _, ok := resp[k]; ok {
					t.Errorf("%s present: %v", k, resp[k])
				}
			}
		})
	}

	if status, _ := do(t, "DELETE", base+"/api/v1/sessions/phien/invites/"+pointID, admin, ""); status != 204 {
		t.Fatalf("revoke: %d", status)
	}
	if status, _ := do(t, "GET", base+"/api/v1/invite", pointTok, ""); status != 401 {
		t.Errorf("revoked invite: %d, want 401", status)
	}
}
