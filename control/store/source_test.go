package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestSources(t *testing.T) {
	tinh := Source{ID: "tinh", Name: "Điểm cầu Tỉnh", URL: "rtsp://user:pass@192.0.2.10/stream1", Transport: "tcp"}
	for _, tc := range []struct {
		name string
		// op runs on a store holding source tinh and session
		// demo whose point uses it.
		op   func(ctx context.Context, s *Store) error
		want error
		// check looks at the store afterwards.
		check func(t *testing.T, ctx context.Context, s *Store)
	}{
		{
			name: "create and read back",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.CreateSource(ctx, Source{ID: "xa-a", URL: "sim://xa-a", Transport: "auto"})
				return err
			},
			check: func(t *testing.T, ctx context.Context, s *Store) {
				got, err := s.GetSource(ctx, "xa-a")
				if err != nil {
					t.Fatal(err)
				}
				if got.URL != "sim://xa-a" || got.Origin != OriginAPI || got.CreatedAt.IsZero() || !got.CreatedAt.Equal(got.UpdatedAt) {
					t.Errorf("got %+v", got)
				}
				list, err := s.ListSources(ctx)
				if err != nil || len(list) != 2 || list[0].ID != "tinh" || list[1].ID != "xa-a" {
					t.Errorf("ListSources = %+v, %v; want tinh, xa-a", list, err)
				}
			},
		},
		{
			name: "allow_anonymous is kept, changed and reloaded from the config",
			op: func(ctx context.Context, s *Store) error {
				if _, err := s.CreateSource(ctx, Source{ID: "enc", URL: "push://", Transport: "auto", AllowAnonymous: true}); err != nil {
					return err
				}
				_, err := s.UpdateSource(ctx, "tinh", func(src *Source) error { src.AllowAnonymous = true; return nil })
				return err
			},
			check: func(t *testing.T, ctx context.Context, s *Store) {
				for _, id := range []string{"enc", "tinh"} {
					if got, err := s.GetSource(ctx, id); err != nil || !got.AllowAnonymous {
						t.Errorf("%s: %+v, %v; want allow_anonymous", id, got, err)
					}
				}
				// The config says otherwise: it wins, and the change is seen.
				if _, err := s.LoadConfig(ctx, []Source{{ID: "enc", URL: "push://", Transport: "auto"}}, nil); err != nil {
					t.Fatal(err)
				}
				if got, _ := s.GetSource(ctx, "enc"); got.AllowAnonymous {
					t.Errorf("after a config without allow_anonymous: %+v", got)
				}
			},
		},
		{
			name: "sub_url is kept, changed and reloaded from the config",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.UpdateSource(ctx, "tinh", func(src *Source) error { src.SubURL = "rtsp://user:pass@192.0.2.10/stream2"; return nil })
				return err
			},
			check: func(t *testing.T, ctx context.Context, s *Store) {
				if got, err := s.GetSource(ctx, "tinh"); err != nil || got.SubURL != "rtsp://user:pass@192.0.2.10/stream2" {
					t.Errorf("GetSource = %+v, %v; want the sub_url kept", got, err)
				}
				// The config has none: it wins, and the change is seen.
				changed, err := s.LoadConfig(ctx, []Source{tinh}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := s.GetSource(ctx, "tinh"); got.SubURL != "" {
					t.Errorf("after a config without sub_url: %+v (changed %v)", got, changed)
				}
			},
		},
		{
			name: "create keeps credentials in the url",
			check: func(t *testing.T, ctx context.Context, s *Store) {
				got, err := s.GetSource(ctx, "tinh")
				if err != nil || got.URL != tinh.URL {
					t.Errorf("GetSource = %+v, %v", got, err)
				}
			},
		},
		{
			name: "create a taken id",
			op:   func(ctx context.Context, s *Store) error { _, err := s.CreateSource(ctx, tinh); return err },
			want: ErrConflict,
		},
		{
			name: "create with empty id",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.CreateSource(ctx, Source{URL: "sim://x"})
				return err
			},
			want: ErrInvalid,
		},
		{
			name: "create with unknown origin",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.CreateSource(ctx, Source{ID: "x", URL: "sim://x", Origin: "file"})
				return err
			},
			want: ErrInvalid,
		},
		{
			name: "get unknown",
			op:   func(ctx context.Context, s *Store) error { _, err := s.GetSource(ctx, "nope"); return err },
			want: ErrNotFound,
		},
		{
			name: "put replaces fields and keeps created_at",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.PutSource(ctx, Source{ID: "tinh", Name: "new", URL: "push://", Transport: "udp", Origin: OriginConfig})
				return err
			},
			check: func(t *testing.T, ctx context.Context, s *Store) {
				got, _ := s.GetSource(ctx, "tinh")
				if got.Name != "new" || got.URL != "push://" || got.Transport != "udp" || got.Origin != OriginConfig || !got.UpdatedAt.After(got.CreatedAt) {
					t.Errorf("got %+v", got)
				}
			},
		},
		{
			name: "update through a function",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.UpdateSource(ctx, "tinh", func(src *Source) error { src.Name = "renamed"; return nil })
				return err
			},
			check: func(t *testing.T, ctx context.Context, s *Store) {
				got, _ := s.GetSource(ctx, "tinh")
				if got.Name != "renamed" || got.URL != tinh.URL {
					t.Errorf("got %+v", got)
				}
			},
		},
		{
			name: "update error leaves the source as it was",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.UpdateSource(ctx, "tinh", func(src *Source) error { src.Name = "half"; return ErrInvalid })
				return err
			},
			want: ErrInvalid,
			check: func(t *testing.T, ctx context.Context, s *Store) {
				if got, _ := s.GetSource(ctx, "tinh"); got.Name != tinh.Name {
					t.Errorf("name = %q", got.Name)
				}
			},
		},
		{
			name: "update may not change the id",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.UpdateSource(ctx, "tinh", func(src *Source) error { src.ID = "other"; return nil })
				return err
			},
			want: ErrInvalid,
		},
		{
			name: "update unknown",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.UpdateSource(ctx, "nope", func(*Source) error { return nil })
				return err
			},
			want: ErrNotFound,
		},
		{
			name: "delete unused",
			op: func(ctx context.Context, s *Store) error {
				if _, err := s.CreateSource(ctx, Source{ID: "spare", URL: "sim://spare"}); err != nil {
					return err
				}
				return s.DeleteSource(ctx, "spare")
			},
			check: func(t *testing.T, ctx context.Context, s *Store) {
				if _, err := s.GetSource(ctx, "spare"); !errors.Is(err, ErrNotFound) {
					t.Errorf("after delete: %v", err)
				}
			},
		},
		{
			name: "delete unknown",
			op:   func(ctx context.Context, s *Store) error { return s.DeleteSource(ctx, "nope") },
			want: ErrNotFound,
		},
		{
			name: "delete used by sessions names them",
			op: func(ctx context.Context, s *Store) error {
				_, err := s.CreateSession(ctx, Session{ID: "another", Start: StartManual, Points: []Point{{ID: "p", Source: "tinh", Gain: 1}}})
				if err != nil {
					return err
				}
				err = s.DeleteSource(ctx, "tinh")
				var inUse *InUseError
				if !errors.As(err, &inUse) || !reflect.DeepEqual(inUse.Sessions, []string{"another", "demo"}) {
					t.Errorf("error = %v, want an InUseError naming another, demo", err)
				}
				return err
			},
			want: ErrConflict,
			check: func(t *testing.T, ctx context.Context, s *Store) {
				if _, err := s.GetSource(ctx, "tinh"); err != nil {
					t.Errorf("source gone after a refused delete: %v", err)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			s := openAt(t, ":memory:")
			if _, err := s.CreateSource(ctx, tinh); err != nil {
				t.Fatal(err)
			}
			if _, err := s.CreateSession(ctx, Session{ID: "demo", Start: StartLive, Points: []Point{{ID: "tinh", Source: "tinh", Gain: 1}}}); err != nil {
				t.Fatal(err)
			}
			if tc.op != nil {
				wantErr(t, tc.op(ctx, s), tc.want)
			}
			if tc.check != nil {
				tc.check(t, ctx, s)
			}
		})
	}
}
