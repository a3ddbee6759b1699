package store

import (
	"crypto/sha256"
	"testing"
	"time"
)

func TestInvites(t *testing.T) {
	ctx, s := sessionFixture(t)
	tokenA, tokenB := sha256.Sum256([]byte("token-a")), sha256.Sum256([]byte("token-b"))
	a, err := s.AddInvite(ctx, Invite{SessionID: "demo", Name: "Công dân A", TokenHash: tokenA})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.ID) != 16 || a.CreatedAt.IsZero() || a.RevokedAt != nil {
		t.Fatalf("AddInvite = %+v", a)
	}
	b, err := s.AddInvite(ctx, Invite{ID: "inv-b", SessionID: "demo", Name: "B", TokenHash: tokenB})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		hash    [32]byte
		wantID  string
		wantErr error
	}{
		{"first token", tokenA, a.ID, nil},
		{"second token", tokenB, "inv-b", nil},
		{"unknown token", sha256.Sum256([]byte("guess")), "", ErrNotFound},
	} {
		t.Run("find "+tc.name, func(t *testing.T) {
			got, err := s.FindInviteByTokenHash(ctx, tc.hash)
			wantErr(t, err, tc.wantErr)
			if err == nil && (got.ID != tc.wantID || got.TokenHash != tc.hash || got.SessionID != "demo") {
				t.Errorf("found %+v", got)
			}
		})
	}

	for _, tc := range []struct {
		name    string
		inv     Invite
		wantErr error
	}{
		{"unknown session", Invite{SessionID: "nope", TokenHash: [32]byte{7}}, ErrNotFound},
		{"taken id", Invite{ID: "inv-b", SessionID: "demo", TokenHash: [32]byte{7}}, ErrConflict},
		{"reused token", Invite{SessionID: "demo", TokenHash: tokenA}, ErrConflict},
		{"no token hash", Invite{SessionID: "demo"}, ErrInvalid},
	} {
		t.Run("add "+tc.name, func(t *testing.T) {
			_, err := s.AddInvite(ctx, tc.inv)
			wantErr(t, err, tc.wantErr)
		})
	}

	revoked, err := s.RevokeInvite(ctx, "demo", b.ID)
	if err != nil || revoked.RevokedAt == nil {
		t.Fatalf("RevokeInvite = %+v, %v", revoked, err)
	}
	again, err := s.RevokeInvite(ctx, "demo", b.ID)
	if err != nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
		t.Errorf("second revoke moved revoked_at: %v → %v (%v)", revoked.RevokedAt, again.RevokedAt, err)
	}
	if found, err := s.FindInviteByTokenHash(ctx, tokenB); err != nil || found.RevokedAt == nil {
		t.Errorf("revoked invite by hash = %+v, %v; want it, marked revoked", found, err)
	}
	_, err = s.RevokeInvite(ctx, "demo", "nope")
	wantErr(t, err, ErrNotFound)
	if _, err := s.CreateSession(ctx, Session{ID: "other", Start: StartManual}); err != nil {
		t.Fatal(err)
	}
	_, err = s.RevokeInvite(ctx, "other", a.ID) // a belongs to demo
	wantErr(t, err, ErrNotFound)

	list, err := s.ListInvites(ctx, "demo")
	if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].ID != "inv-b" || list[0].RevokedAt != nil || list[1].RevokedAt == nil {
		t.Errorf("ListInvites = %+v, %v", list, err)
	}
	if list, err := s.ListInvites(ctx, "other"); err != nil || len(list) != 0 {
		t.Errorf("ListInvites(other) = %+v, %v", list, err)
	}
	_, err = s.ListInvites(ctx, "nope")
	wantErr(t, err, ErrNotFound)

	created := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("ICT", 7*3600))
	c, err := s.AddInvite(ctx, Invite{SessionID: "demo", TokenHash: [32]byte{3}, CreatedAt: created})
	if err != nil || !c.CreatedAt.Equal(created) || c.CreatedAt.Location() != time.UTC {
		t.Errorf("given created_at: %v, %v", c.CreatedAt, err)
	}
}

func TestInviteForPoint(t *testing.T) {
	ctx, s := sessionFixture(t)
	for _, tc := range []struct {
		name, point string
		wantErr     error
	}{
		{"no point", "", nil},
		{"a point of the session", "xa-a", nil},
		{"a point the session lacks", "xa-b", ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hash := sha256.Sum256([]byte("token " + tc.name))
			inv, err := s.AddInvite(ctx, Invite{SessionID: "demo", Name: tc.name, Point: tc.point, TokenHash: hash})
			wantErr(t, err, tc.wantErr)
			if err != nil {
				return
			}
			got, err := s.FindInviteByTokenHash(ctx, hash)
			if err != nil || got.ID != inv.ID || got.Point != tc.point {
				t.Fatalf("found %+v, %v; want point %q", got, err, tc.point)
			}
		})
	}
}

func TestSourcePublishHash(t *testing.T) {
	ctx, s := sessionFixture(t)
	hash := "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
	if _, err := s.CreateSource(ctx, Source{ID: "whip-a", URL: "whip://", PublishSHA256: hash}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSource(ctx, "whip-a")
	if err != nil || got.PublishSHA256 != hash {
		t.Fatalf("GetSource = %+v, %v", got, err)
	}
	if _, err := s.CreateSource(ctx, Source{ID: "whip-b", URL: "whip://", PublishSHA256: "short"}); err == nil {
		t.Fatal("a publish hash that is not 64 hex digits was stored")
	}
}
