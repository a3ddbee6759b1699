package control

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"diemcau/control/store"
)

// TestAuthorizeRead: who may read which RTSP path with which password.
func TestAuthorizeRead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := openStore(t, ctx, "tinh")
	for _, id := range []string{"phien-1", "phien-2", "xong"} {
		if _, err := st.CreateSession(ctx, store.Session{ID: id, Layout: "grid", Start: store.StartManual, State: store.StateIdle, Origin: store.OriginAPI,
			Output: store.Output{Width: 320, Height: 180, FPS: 30, Bitrate: 500},
			Points: []store.Point{{ID: "tinh", Source: "tinh", Role: "province", Label: "T", Gain: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	invite := func(session, token string) string {
		inv, err := st.AddInvite(ctx, store.Invite{SessionID: session, Name: "x", TokenHash: sha256.Sum256([]byte(token))})
		if err != nil {
			t.Fatal(err)
		}
		return inv.ID
	}
	inv1 := invite("phien-1", "inv-1")
	gone := invite("phien-1", "inv-gone")
	if _, err := st.RevokeInvite(ctx, "phien-1", gone); err != nil {
		t.Fatal(err)
	}
	invite("xong", "inv-ended")
	if _, err := st.UpdateSessionState(ctx, "xong", store.StateEnded, time.Now()); err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: Config{Tokens: testTokens()}, deps: Deps{Store: st}}

	cases := []struct {
		name, user, pass, path string
		want                   Grant
		err                    error
	}{
		{"admin token, any user, a feed", "x", "admin-token", "sources/tinh", Grant{Token: "admin"}, nil},
		{"operator token, a composite", "op", "op-token", "sessions/phien-2", Grant{Token: "op"}, nil},
		{"viewer token is WHEP only", "tv", "viewer-token", "sessions/phien-1", Grant{}, ErrNotAllowed},
		{"invite, its session", inv1, "inv-1", "sessions/phien-1", Grant{Invite: inv1, Session: "phien-1"}, nil},
		{"invite, another session", inv1, "inv-1", "sessions/phien-2", Grant{}, ErrNotAllowed},
		{"invite, a single feed", inv1, "inv-1", "sources/tinh", Grant{}, ErrNotAllowed},
		{"revoked invite", gone, "inv-gone", "sessions/phien-1", Grant{}, ErrCredentials},
		{"invite of an ended session", "x", "inv-ended", "sessions/xong", Grant{}, ErrCredentials},
		{"unknown secret", "admin", "guess", "sessions/phien-1", Grant{}, ErrCredentials},
		{"no password", "admin", "", "sessions/phien-1", Grant{}, ErrCredentials},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := s.AuthorizeRead(ctx, tc.user, tc.pass, tc.path)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || g != tc.want {
				t.Fatalf("grant %+v, %v; want %+v", g, err, tc.want)
			}
		})
	}
}

type recordingRevoker struct {
	mu    sync.Mutex
	calls []string
}

func (r *recordingRevoker) EndInvite(session, invite string) {
	r.add("invite " + session + "/" + invite)
}
func (r *recordingRevoker) EndSession(session string) { r.add("session " + session) }

func (r *recordingRevoker) add(s string) {
	r.mu.Lock()
	r.calls = append(r.calls, s)
	r.mu.Unlock()
}

func (r *recordingRevoker) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// TestRevokerCalled: deleting an invite, stopping or deleting a session
// tell the revoker, so that what they let in is ended.
func TestRevokerCalled(t *testing.T) {
	rev := &recordingRevoker{}
	base, _ := startWithStore(t, func(d *Deps) { d.Revoker = rev })
	const op = "op-token"
	if status, resp := do(t, "POST", base+"/api/v1/sessions", op, `{"id":"phien-1","points":[{"id":"tinh","source":"tinh"}]}`); status != 201 {
		t.Fatalf("create: %d %v", status, resp)
	}
	if status, resp := do(t, "POST", base+"/api/v1/sessions/phien-1/start", op, `{"mode":"rehearsal"}`); status != 200 {
		t.Fatalf("start: %d %v", status, resp)
	}
	status, resp := do(t, "POST", base+"/api/v1/sessions/phien-1/invites", op, `{"name":"Bà B"}`)
	if status != 201 {
		t.Fatalf("invite: %d %v", status, resp)
	}
	iid := resp["id"].(string)
	if len(rev.take()) != 0 {
		t.Fatal("revoker called before anything ended")
	}

	steps := []struct {
		name, method, path, body string
		status                   int
		want                     []string
	}{
		{"delete invite", "DELETE", "/api/v1/sessions/phien-1/invites/" + iid, "", http.StatusNoContent, []string{"invite phien-1/" + iid}},
		{"stop session", "POST", "/api/v1/sessions/phien-1/stop", "", http.StatusOK, []string{"session phien-1"}},
		{"delete session", "DELETE", "/api/v1/sessions/phien-1", "", http.StatusNoContent, []string{"session phien-1"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if status, resp := do(t, st.method, base+st.path, op, st.body); status != st.status {
				t.Fatalf("%d %v", status, resp)
			}
			got := slices.Compact(rev.take())
			if !slices.Equal(got, st.want) {
				t.Fatalf("revoker calls %q, want %q", got, st.want)
			}
		})
	}
}
