package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func sampleCheck(session, kind string) CheckReport {
	start := time.Date(2025, 6, 2, 1, 30, 0, 0, time.UTC)
	return CheckReport{SessionID: session, Kind: kind, StartedAt: start, FinishedAt: start.Add(8 * time.Second), Verdict: VerdictFail,
		Points: []PointCheck{
			{PointID: "tinh", Source: "tinh", Verdict: VerdictPass, Probe: json.RawMessage(`{"codec":"h264","fps":30}`)},
			{PointID: "xa-a", Source: "xa-a", Verdict: VerdictFail, Reasons: []string{"unreachable: connection refused"}},
		},
		Server: json.RawMessage(`{"encoder":"x264enc","disk_free":1000000}`)}
}

func TestChecks(t *testing.T) {
	ctx, s := sessionFixture(t)
	first, err := s.AddCheck(ctx, sampleCheck("demo", CheckT24h))
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.AddCheck(ctx, sampleCheck("demo", CheckManual))
	if err != nil {
		t.Fatal(err)
	}
	if first.N != 1 || second.N != 2 {
		t.Fatalf("N = %d, %d; want 1, 2", first.N, second.N)
	}
	got, err := s.GetCheck(ctx, "demo", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, first) {
		t.Errorf("GetCheck = %+v\nwant       %+v", got, first)
	}
	if got.Points[0].Reasons == nil || len(got.Points[1].Reasons) != 1 {
		t.Errorf("reasons = %#v, %#v; want [] and one", got.Points[0].Reasons, got.Points[1].Reasons)
	}
	list, err := s.ListChecks(ctx, "demo")
	if err != nil || len(list) != 2 || list[0].N != 1 || list[1].N != 2 || list[1].Kind != CheckManual {
		t.Errorf("ListChecks = %+v, %v", list, err)
	}

	// Numbers are per session.
	if _, err := s.CreateSession(ctx, Session{ID: "other", Start: StartManual}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.AddCheck(ctx, sampleCheck("other", CheckT2h)); err != nil || r.N != 1 {
		t.Errorf("first check of another session: N=%d, %v", r.N, err)
	}

	for _, tc := range []struct {
		name    string
		err     error
		wantErr error
	}{
		{"get unknown n", func() error { _, err := s.GetCheck(ctx, "demo", 3); return err }(), ErrNotFound},
		{"get in unknown session", func() error { _, err := s.GetCheck(ctx, "nope", 1); return err }(), ErrNotFound},
		{"list unknown session", func() error { _, err := s.ListChecks(ctx, "nope"); return err }(), ErrNotFound},
		{"add to unknown session", func() error { _, err := s.AddCheck(ctx, sampleCheck("nope", CheckManual)); return err }(), ErrNotFound},
		{"add bad kind", func() error { _, err := s.AddCheck(ctx, sampleCheck("demo", "t-1h")); return err }(), ErrInvalid},
		{"add bad verdict", func() error {
			r := sampleCheck("demo", CheckManual)
			r.Points[1].Verdict = "maybe"
			_, err := s.AddCheck(ctx, r)
			return err
		}(), ErrInvalid},
		{"add bad server JSON", func() error {
			r := sampleCheck("demo", CheckManual)
			r.Server = json.RawMessage(`{"encoder":`)
			_, err := s.AddCheck(ctx, r)
			return err
		}(), ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.err, tc.wantErr) })
	}
}

func TestHasCheck(t *testing.T) {
	ctx, s := sessionFixture(t)
	r := sampleCheck("demo", CheckT24h) // started 2025-06-02 01:30 UTC
	if _, err := s.AddCheck(ctx, r); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		session string
		kind    string
		since   time.Time
		want    bool
	}{
		{"ever", "demo", CheckT24h, time.Time{}, true},
		{"since just before", "demo", CheckT24h, r.StartedAt.Add(-time.Minute), true},
		{"since exactly then", "demo", CheckT24h, r.StartedAt, true},
		{"rescheduled later", "demo", CheckT24h, r.StartedAt.Add(time.Minute), false},
		{"other kind", "demo", CheckT2h, time.Time{}, false},
		{"other session", "nope", CheckT24h, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.HasCheck(ctx, tc.session, tc.kind, tc.since)
			if err != nil || got != tc.want {
				t.Errorf("HasCheck = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
