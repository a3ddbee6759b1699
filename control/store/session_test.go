package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

// sessionFixture holds sources tinh, xa-a and session demo (points tinh, xa-a).
func sessionFixture(t *testing.T) (context.Context, *Store) {
	t.Helper()
	ctx := testCtx(t)
	s := openAt(t, ":memory:")
	for _, id := range []string{"tinh", "xa-a", "xa-b"} {
		if _, err := s.CreateSource(ctx, Source{ID: id, URL: "sim://" + id}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.CreateSession(ctx, Session{ID: "demo", Title: "Tiếp công dân", Layout: "grid", Start: StartLive,
		Output: Output{1280, 720, 30, 2500},
		Points: []Point{{ID: "tinh", Source: "tinh", Role: "province", Label: "UBND Tỉnh", Gain: 1}, {ID: "xa-a", Source: "xa-a", Role: "local", Gain: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, s
}

func TestSessions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		op    func(ctx context.Context, s *Store) error
		want  error
		check func(t *testing.T, ctx context.Context, s *Store)
	}{
		{
			name: "create and read back with points in order",
			check: func(t *testing.T, ctx context.Context, s *Store) {
				got, err := s.GetSession(ctx, "demo")
				if err != nil {
					t.Fatal(err)
				}
				if got.State != StateIdle || got.Origin != OriginAPI || got.Output != (Output{1280, 720, 30, 2500}) ||
					len(got.Points) != 2 || got.Points[0].ID != "tinh" || got.Points[1].ID != "xa-a" || got.Points[0].Label != "UBND Tỉnh" {
					t.Errorf("got %+v", got)
				}
			},
		},
		{
			name: "create a taken id",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.CreateSession(ctx, Session{ID: "demo", Start: StartLive})
				return err
			},
			want: ErrConflict,
		},
		{
			name: "create with a point naming no source",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.CreateSession(ctx, Session{ID: "x", Start: StartLive, Points: []Point{{ID: "p", Source: "nope", Gain: 1}}})
				return err
			},
			want: ErrInvalid,
		},
		{
			name: "create with a duplicate point id",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.CreateSession(ctx, Session{ID: "x", Start: StartLive, Points: []Point{{ID: "p", Source: "tinh"}, {ID: "p", Source: "xa-a"}}})
				return err
			},
			want: ErrInvalid,
		},
		{
			name: "create with bad start, state, gain or focus",
			op: func(ctx context.Context, s *Store) error {
				for _, bad := range []Session{
					{ID: "x", Start: "soon"},
					{ID: "x", Start: StartLive, State: "paused"},
					{ID: "x", Start: StartLive, Points: []Point{{ID: "p", Source: "tinh", Gain: -1}}},
					{ID: "x", Start: StartLive, Focus: "ghost"},
					{ID: "", Start: StartLive},
				} {
					if _, err := s.CreateSession(ctx, bad); !errors.Is(err, ErrInvalid) {
						t.Errorf("CreateSession(%+v) = %v, want ErrInvalid", bad, err)
					}
				}
				return nil
			},
		},
		{
			name: "get unknown",
			op:   func(ctx context.Context, s *Store) error { _, err := s.GetSession(ctx, "nope"); return err },
			want: ErrNotFound,
		},
		{
			name: "put replaces definition and points, keeps run-time state",
			op: func(ctx context.Context, s *Store) error {
				if _, err := s.UpdateSessionState(ctx, "demo", StateLive, time.Unix(1700000000, 0)); err != nil {
					return err
				}
				_, err := s.PutSession(ctx, Session{ID: "demo", Title: "v2", Layout: "speaker", Focus: "xa-b", Start: StartManual, State: StateIdle,
					Points: []Point{{ID: "xa-b", Source: "xa-b", Gain: 0.5}}})
				return err
			},
			check: func(t *testing.T, ctx context.Context, s *Store) {
				got, _ := s.GetSession(ctx, "demo")
				if got.Title != "v2" || got.Focus != "xa-b" || len(got.Points) != 1 || got.Points[0].Gain != 0.5 ||
					got.State != StateLive || got.StartedAt == nil || !got.StartedAt.Equal(time.Unix(1700000000, 0)) {
					t.Errorf("got %+v", got)
				}
			},
		},
		{
			name: "update through a function adds a point",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.UpdateSession(ctx, "demo", func(sess *Session) error {
					sess.Points = append(sess.Points, Point{ID: "xa-b", Source: "xa-b", Gain: 1})
					return nil
				})
				return err
			},
			check: func(t *testing.T, ctx context.Context, s *Store) {
				got, _ := s.GetSession(ctx, "demo")
				if len(got.Points) != 3 || got.Points[2].ID != "xa-b" {
					t.Errorf("points = %+v", got.Points)
				}
			},
		},
		{
			name: "update unknown",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.UpdateSession(ctx, "nope", func(*Session) error { return nil })
				return err
			},
			want: ErrNotFound,
		},
		{
			name: "delete removes points, checks and invites",
			op: func(ctx context.Context, s *Store) error {
				if _, err := s.AddCheck(ctx, sampleCheck("demo", CheckManual)); err != nil {
					return err
				}
				if _, err := s.AddInvite(ctx, Invite{SessionID: "demo", TokenHash: [32]byte{9}}); err != nil {
					return err
				}
				return s.DeleteSession(ctx, "demo")
			},
			check: func(t *testing.T, ctx context.Context, s *Store) {
				if _, err := s.GetSession(ctx, "demo"); !errors.Is(err, ErrNotFound) {
					t.Errorf("after delete: %v", err)
				}
				for _, table := range []string{"points", "checks", "invites"} {
					if n := tableCount(t, s.db, table); n != 0 {
						t.Errorf("%s has %d rows left", table, n)
					}
				}
				if err := s.DeleteSource(ctx, "tinh"); err != nil {
					t.Errorf("source still held after its session went: %v", err)
				}
			},
		},
		{
			name: "delete a live session",
			op: func(ctx context.Context, s *Store) error {
				if _, err := s.UpdateSessionState(ctx, "demo", StateLive, time.Now()); err != nil {
					return err
				}
				return s.DeleteSession(ctx, "demo")
			},
			want: ErrConflict,
		},
		{
			name: "delete unknown",
			op:   func(ctx context.Context, s *Store) error { return s.DeleteSession(ctx, "nope") },
			want: ErrNotFound,
		},
		{
			name: "list",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.CreateSession(ctx, Session{ID: "b-empty", Start: StartManual})
				return err
			},
			check: func(t *testing.T, ctx context.Context, s *Store) {
				list, err := s.ListSessions(ctx)
				if err != nil || len(list) != 2 || list[0].ID != "b-empty" || len(list[0].Points) != 0 || list[0].Points == nil ||
					list[1].ID != "demo" || len(list[1].Points) != 2 {
					t.Errorf("ListSessions = %+v, %v", list, err)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, s := sessionFixture(t)
			if tc.op != nil {
				wantErr(t, tc.op(ctx, s), tc.want)
			}
			if tc.check != nil {
				tc.check(t, ctx, s)
			}
		})
	}
}

func TestUpdateSessionState(t *testing.T) {
	ctx, s := sessionFixture(t)
	t0 := time.Date(2025, 6, 3, 7, 30, 0, 0, time.FixedZone("ICT", 7*3600))
	for _, step := range []struct {
		state          string
		at             time.Time
		started, ended *time.Time
		wantErr        error
	}{
		{state: StateRehearsal, at: t0, started: &t0},
		{state: StateLive, at: t0.Add(time.Hour), started: ptr(t0.Add(time.Hour))},
		{state: StateEnded, at: t0.Add(3 * time.Hour), started: ptr(t0.Add(time.Hour)), ended: ptr(t0.Add(3 * time.Hour))},
		{state: StateIdle, at: t0.Add(4 * time.Hour)},
		{state: "paused", at: t0, wantErr: ErrInvalid},
	} {
		got, err := s.UpdateSessionState(ctx, "demo", step.state, step.at)
		wantErr(t, err, step.wantErr)
		if err != nil {
			continue
		}
		if got.State != step.state || !sameTimePtr(got.StartedAt, step.started) || !sameTimePtr(got.EndedAt, step.ended) {
			t.Errorf("after %s: state %s started %v ended %v", step.state, got.State, got.StartedAt, got.EndedAt)
		}
		if got.StartedAt != nil && got.StartedAt.Location() != time.UTC {
			t.Errorf("started_at not in UTC: %v", got.StartedAt)
		}
	}
	_, err := s.UpdateSessionState(ctx, "nope", StateLive, t0)
	wantErr(t, err, ErrNotFound)
}

func sameTimePtr(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

func TestUpdatePoint(t *testing.T) {
	for _, tc := range []struct {
		name           string
		session, point string
		gain           *float64
		muted          *bool
		label          *string
		want           Point
		wantErr        error
	}{
		{name: "gain only", session: "demo", point: "xa-a", gain: ptr(0.25),
			want: Point{ID: "xa-a", Source: "xa-a", Role: "local", Gain: 0.25}},
		{name: "mute and label", session: "demo", point: "tinh", muted: ptr(true), label: ptr("Tỉnh"),
			want: Point{ID: "tinh", Source: "tinh", Role: "province", Label: "Tỉnh", Gain: 1, Muted: true}},
		{name: "nothing", session: "demo", point: "tinh",
			want: Point{ID: "tinh", Source: "tinh", Role: "province", Label: "UBND Tỉnh", Gain: 1}},
		{name: "negative gain", session: "demo", point: "tinh", gain: ptr(-0.1), wantErr: ErrInvalid},
		{name: "unknown point", session: "demo", point: "nope", gain: ptr(1.0), wantErr: ErrNotFound},
		{name: "unknown session", session: "nope", point: "tinh", gain: ptr(1.0), wantErr: ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, s := sessionFixture(t)
			before, _ := s.GetSession(ctx, "demo")
			got, err := s.UpdatePoint(ctx, tc.session, tc.point, tc.gain, tc.muted, tc.label)
			wantErr(t, err, tc.wantErr)
			if err != nil {
				return
			}
			if got != tc.want {
				t.Errorf("UpdatePoint = %+v, want %+v", got, tc.want)
			}
			sess, _ := s.GetSession(ctx, "demo")
			for _, p := range sess.Points {
				if p.ID == tc.point && p != tc.want {
					t.Errorf("stored point %+v, want %+v", p, tc.want)
				}
			}
			if !sess.UpdatedAt.After(before.UpdatedAt) {
				t.Errorf("updated_at did not move")
			}
		})
	}
}

func TestSetLayout(t *testing.T) {
	for _, tc := range []struct {
		name, id, layout, focus string
		wantErr                 error
	}{
		{name: "speaker on a point", id: "demo", layout: "speaker", focus: "xa-a"},
		{name: "grid without focus", id: "demo", layout: "grid"},
		{name: "focus on no point", id: "demo", layout: "speaker", focus: "ghost", wantErr: ErrInvalid},
		{name: "unknown session", id: "nope", layout: "grid", wantErr: ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, s := sessionFixture(t)
			got, err := s.SetLayout(ctx, tc.id, tc.layout, tc.focus)
			wantErr(t, err, tc.wantErr)
			if err != nil {
				return
			}
			again, _ := s.GetSession(ctx, tc.id)
			if got.Layout != tc.layout || got.Focus != tc.focus || again.Layout != tc.layout || again.Focus != tc.focus {
				t.Errorf("returned %s/%s, stored %s/%s", got.Layout, got.Focus, again.Layout, again.Focus)
			}
		})
	}
}
