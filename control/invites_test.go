package control

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"diemcau/control/store"
)

func TestInvites(t *testing.T) {
	base, st := startWithStore(t)
	ctx := context.Background()
	for _, id := range []string{"phien-1", "phien-2"} {
		if _, err := st.CreateSession(ctx, store.Session{ID: id, Layout: "grid", Start: store.StartManual, State: store.StateIdle, Origin: store.OriginAPI,
			Output: store.Output{Width: 320, Height: 180, FPS: 30, Bitrate: 500},
			Points: []store.Point{{ID: "tinh", Source: "tinh", Role: "province", Label: "T", Gain: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	const admin = "admin-token"
	status, resp := do(t, "POST", base+"/api/v1/sessions/phien-1/invites", admin, `{"name":"Ông A"}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, resp)
	}
	token, _ := resp["token"].(string)
	join, _ := resp["url"].(string)
	if len(token) < 32 || !strings.Contains(join, "/watch/phien-1#token="+token) {
		t.Fatalf("token %q url %q", token, join)
	}
	if status, resp := do(t, "POST", base+"/api/v1/sessions/phien-1/invites", admin, `{"name":""}`); status != 400 {
		t.Fatalf("empty name: %d %v", status, resp)
	}
	if status, _ := do(t, "POST", base+"/api/v1/sessions/nope/invites", admin, `{"name":"x"}`); status != 404 {
		t.Fatalf("unknown session: %d", status)
	}
	status, resp = do(t, "GET", base+"/api/v1/sessions/phien-1/invites", admin, "")
	list := resp["invites"].([]any)
	if status != 200 || len(list) != 1 || strings.Contains(strings.ToLower(toJSON(resp)), token) {
		t.Fatalf("list: %d %v (must not show the token)", status, resp)
	}
	iid := list[0].(map[string]any)["id"].(string)

	s := &Server{cfg: Config{}, deps: Deps{Store: st}}
	whep := func(tok, session string) bool {
		r := httptest.NewRequest("POST", "/whep/sessions/"+session, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, ok := s.AuthorizeWHEP(r, session, "")
		return ok
	}
	tests := []struct {
		name, token, session string
		want                 bool
	}{
		{"its session", token, "phien-1", true},
		{"another session", token, "phien-2", false},
		{"a single source", token, "", false},
		{"wrong token", "x" + token, "phien-1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := whep(tc.token, tc.session); got != tc.want {
				t.Fatalf("authorized = %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := st.UpdateSessionState(ctx, "phien-1", store.StateEnded, time.Now()); err != nil {
		t.Fatal(err)
	}
	if whep(token, "phien-1") {
		t.Fatal("invite still works after the session ended")
	}
	if _, err := st.UpdateSessionState(ctx, "phien-1", store.StateIdle, time.Now()); err != nil {
		t.Fatal(err)
	}
	if status, _ := do(t, "DELETE", base+"/api/v1/sessions/phien-1/invites/"+iid, admin, ""); status != http.StatusNoContent {
		t.Fatalf("revoke: %d", status)
	}
	if whep(token, "phien-1") {
		t.Fatal("invite still works after it was deleted")
	}
}
