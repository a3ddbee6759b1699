package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	cfgSources := []Source{
		{ID: "tinh", Name: "Điểm cầu Tỉnh", URL: "rtsp://u:p@192.0.2.10/s1", Transport: "tcp"},
		{ID: "xa-a", URL: "sim://xa-a", Transport: "auto"},
	}
	cfgSessions := []Session{{ID: "demo", Title: "Tiếp công dân", Layout: "speaker", Focus: "tinh", Start: StartLive,
		Points: []Point{{ID: "tinh", Source: "tinh", Gain: 1}, {ID: "xa-a", Source: "xa-a", Gain: 1}}}}

	for _, tc := range []struct {
		name string
		// before runs on an empty store before the config is loaded.
		before   func(ctx context.Context, s *Store) error
		sources  []Source
		sessions []Session
		want     []string
		wantErr  error
		check    func(t *testing.T, ctx context.Context, s *Store)
	}{
		{
			name:    "empty store takes the config silently",
			sources: cfgSources, sessions: cfgSessions,
			check: func(t *testing.T, ctx context.Context, s *Store) {
				sess, err := s.GetSession(ctx, "demo")
				if err != nil || sess.Origin != OriginConfig || len(sess.Points) != 2 {
					t.Errorf("demo = %+v, %v", sess, err)
				}
				src, err := s.GetSource(ctx, "tinh")
				if err != nil || src.Origin != OriginConfig || src.URL != cfgSources[0].URL {
					t.Errorf("tinh = %+v, %v", src, err)
				}
			},
		},
		{
			name: "config replaces what the API created",
			before: func(ctx context.Context, s *Store) error {
				if _, err := s.CreateSource(ctx, Source{ID: "tinh", URL: "sim://api"}); err != nil {
					return err
				}
				_, err := s.CreateSession(ctx, Session{ID: "demo", Title: "from the API", Start: StartManual, Points: []Point{{ID: "p", Source: "tinh"}}})
				return err
			},
			sources: cfgSources, sessions: cfgSessions,
			want: []string{
				"source tinh: config replaces the version created through the API",
				"session demo: config replaces the version created through the API",
			},
			check: func(t *testing.T, ctx context.Context, s *Store) {
				sess, _ := s.GetSession(ctx, "demo")
				src, _ := s.GetSource(ctx, "tinh")
				if sess.Title != "Tiếp công dân" || sess.Origin != OriginConfig || len(sess.Points) != 2 || src.URL != cfgSources[0].URL {
					t.Errorf("config did not win: %+v %+v", sess, src)
				}
			},
		},
		{
			name: "API entries with other ids are left alone",
			before: func(ctx context.Context, s *Store) error {
				if _, err := s.CreateSource(ctx, Source{ID: "xa-z", URL: "sim://xa-z"}); err != nil {
					return err
				}
				_, err := s.CreateSession(ctx, Session{ID: "extra", Start: StartManual, Points: []Point{{ID: "z", Source: "xa-z"}}})
				return err
			},
			sources: cfgSources, sessions: cfgSessions,
			check: func(t *testing.T, ctx context.Context, s *Store) {
				if _, err := s.GetSession(ctx, "extra"); err != nil {
					t.Error(err)
				}
				if _, err := s.GetSource(ctx, "xa-z"); err != nil {
					t.Error(err)
				}
			},
		},
		{
			name: "entries dropped from the config go, unless still used",
			before: func(ctx context.Context, s *Store) error {
				old := append(cfgSources, Source{ID: "old", URL: "sim://old"}, Source{ID: "kept", URL: "sim://kept"})
				oldSessions := append(cfgSessions, Session{ID: "gone", Start: StartLive, Points: []Point{{ID: "o", Source: "old"}}})
				if _, err := s.LoadConfig(ctx, old, oldSessions); err != nil {
					return err
				}
				_, err := s.CreateSession(ctx, Session{ID: "api-user", Start: StartManual, Points: []Point{{ID: "k", Source: "kept"}}})
				return err
			},
			sources: cfgSources, sessions: cfgSessions,
			want: []string{
				"session gone: removed, it is no longer in the config",
				"source kept: no longer in the config, kept because session(s) api-user use it",
				"source old: removed, it is no longer in the config",
			},
			check: func(t *testing.T, ctx context.Context, s *Store) {
				if _, err := s.GetSession(ctx, "gone"); !errors.Is(err, ErrNotFound) {
					t.Errorf("gone: %v", err)
				}
				if _, err := s.GetSource(ctx, "old"); !errors.Is(err, ErrNotFound) {
					t.Errorf("old: %v", err)
				}
				if _, err := s.GetSource(ctx, "kept"); err != nil {
					t.Errorf("kept: %v", err)
				}
			},
		},
		{
			name: "loading the same config again changes nothing",
			before: func(ctx context.Context, s *Store) error {
				if _, err := s.LoadConfig(ctx, cfgSources, cfgSessions); err != nil {
					return err
				}
				_, err := s.UpdateSessionState(ctx, "demo", StateLive, s.stamp())
				return err
			},
			sources: cfgSources, sessions: cfgSessions,
			check: func(t *testing.T, ctx context.Context, s *Store) {
				sess, _ := s.GetSession(ctx, "demo")
				src, _ := s.GetSource(ctx, "tinh")
				if !src.UpdatedAt.Equal(src.CreatedAt) {
					t.Errorf("unchanged source rewritten: %+v", src)
				}
				if sess.State != StateLive {
					t.Errorf("run-time state lost: %s", sess.State)
				}
			},
		},
		{
			name: "a changed config entry is rewritten without a message",
			before: func(ctx context.Context, s *Store) error {
				_, err := s.LoadConfig(ctx, cfgSources, cfgSessions)
				return err
			},
			sources:  []Source{{ID: "tinh", URL: "rtsp://192.0.2.99/new"}, cfgSources[1]},
			sessions: cfgSessions,
			check: func(t *testing.T, ctx context.Context, s *Store) {
				if src, _ := s.GetSource(ctx, "tinh"); src.URL != "rtsp://192.0.2.99/new" {
					t.Errorf("url = %q", src.URL)
				}
			},
		},
		{
			name:     "a config session without start starts live",
			sources:  cfgSources,
			sessions: []Session{{ID: "bare", Points: []Point{{ID: "tinh", Source: "tinh", Gain: 1}}}},
			check: func(t *testing.T, ctx context.Context, s *Store) {
				if sess, err := s.GetSession(ctx, "bare"); err != nil || sess.Start != StartLive {
					t.Errorf("bare = %+v, %v", sess, err)
				}
			},
		},
		{
			name:     "a point naming no source fails and changes nothing",
			sources:  cfgSources[:1],
			sessions: cfgSessions,
			wantErr:  ErrInvalid,
			check: func(t *testing.T, ctx context.Context, s *Store) {
				if list, _ := s.ListSources(ctx); len(list) != 0 {
					t.Errorf("a failed load left sources: %+v", list)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			s := openAt(t, ":memory:")
			if tc.before != nil {
				if err := tc.before(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			msgs, err := s.LoadConfig(ctx, tc.sources, tc.sessions)
			wantErr(t, err, tc.wantErr)
			if !reflect.DeepEqual(msgs, tc.want) {
				t.Errorf("messages:\n got %q\nwant %q", msgs, tc.want)
			}
			if tc.check != nil {
				tc.check(t, ctx, s)
			}
		})
	}
}
