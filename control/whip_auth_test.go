package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"diemcau/control/store"
)

// TestPointInviteRights: an invite made for a point publishes that point's
// whip:// source and watches its return feed and the composite, nothing
// else; the publish secret publishes its own source only.
func TestPointInviteRights(t *testing.T) {
	base, st := startWithStore(t)
	ctx := context.Background()
	secretSum := sha256.Sum256([]byte("the-secret"))
	for _, src := range []store.Source{
		{ID: "whip-a", URL: "whip://", PublishSHA256: hex.EncodeToString(secretSum[:])},
		{ID: "whip-b", URL: "whip://"},
	} {
		src.Transport, src.Origin = "auto", store.OriginAPI
		if _, err := st.PutSource(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateSession(ctx, store.Session{ID: "phien", Layout: "grid", Start: store.StartManual, State: store.StateIdle, Origin: store.OriginAPI,
		Output: store.Output{Width: 320, Height: 180, FPS: 30, Bitrate: 500},
		Points: []store.Point{
			{ID: "tinh", Source: "tinh", Role: "province", Label: "T", Gain: 1},
			{ID: "xa-a", Source: "whip-a", Role: "local", Label: "A", Gain: 1},
			{ID: "xa-b", Source: "whip-b", Role: "local", Label: "B", Gain: 1},
		}}); err != nil {
		t.Fatal(err)
	}
	const admin = "admin-token"
	if status, resp := do(t, "POST", base+"/api/v1/sessions/phien/invites", admin, `{"name":"x","point":"nope"}`); status != 400 || !strings.Contains(toJSON(resp), "point") {
		t.Fatalf("unknown point: %d %v", status, resp)
	}
	status, resp := do(t, "POST", base+"/api/v1/sessions/phien/invites", admin, `{"name":"UBND xã A","point":"xa-a"}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, resp)
	}
	pointTok, _ := resp["token"].(string)
	if u, _ := resp["url"].(string); !strings.Contains(u, "/join/phien#token="+pointTok) || resp["point"] != "xa-a" {
		t.Fatalf("point invite answer %v", resp)
	}
	_, resp = do(t, "POST", base+"/api/v1/sessions/phien/invites", admin, `{"name":"viewer"}`)
	viewerTok, _ := resp["token"].(string)

	s := &Server{cfg: Config{}, deps: Deps{Store: st}}
	s.cfg.Tokens = []Token{{Name: "admin", Role: RoleAdmin, SHA256: sha256.Sum256([]byte(admin))}}
	t.Run("watch", func(t *testing.T) {
		for _, tc := range []struct {
			name, token, point string
			want               bool
		}{
			{"point invite, composite", pointTok, "", true},
			{"point invite, its return feed", pointTok, "xa-a", true},
			{"point invite, another point's feed", pointTok, "xa-b", false},
			{"viewer invite, any return feed", viewerTok, "xa-b", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := httptest.NewRequest("POST", "/whep/sessions/phien", nil)
				r.Header.Set("Authorization", "Bearer "+tc.token)
				if _, ok := s.AuthorizeWHEP(r, "phien", tc.point); ok != tc.want {
					t.Fatalf("authorized = %v, want %v", ok, tc.want)
				}
			})
		}
	})
	t.Run("publish", func(t *testing.T) {
		for _, tc := range []struct {
			name, token, source string
			want                error
			status              int
		}{
			{"point invite, its source", pointTok, "whip-a", nil, 0},
			{"point invite, another source", pointTok, "whip-b", ErrNotAllowed, 403},
			{"point invite, not whip", pointTok, "tinh", ErrNotWHIP, 400},
			{"viewer invite", viewerTok, "whip-a", ErrNotAllowed, 403},
			{"publish secret", "the-secret", "whip-a", nil, 0},
			{"publish secret, another source", "the-secret", "whip-b", ErrCredentials, 401},
			{"wrong secret", "guess", "whip-a", ErrCredentials, 401},
			{"no token", "", "whip-a", ErrCredentials, 401},
			{"admin token", admin, "whip-a", ErrNotAllowed, 403},
			{"admin token, not whip", admin, "tinh", ErrNotWHIP, 400},
			{"admin token, unknown source", admin, "nope", store.ErrNotFound, 404},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := httptest.NewRequest("POST", "/whip/ingest/"+tc.source, nil)
				if tc.token != "" {
					r.Header.Set("Authorization", "Bearer "+tc.token)
				}
				_, err := s.AuthorizeWHIP(r, tc.source)
				if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if err != nil {
					if status, msg := WHIPStatus(err); status != tc.status || strings.Contains(msg, tc.token) && tc.token != "" {
						t.Fatalf("status %d %q, want %d", status, msg, tc.status)
					}
				}
			})
		}
	})
}
