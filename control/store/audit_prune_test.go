package store

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"diemcau/internal/testkit"
)

// auditAt appends one entry per age, dated now minus that age.
func auditAt(t *testing.T, s *Store, now time.Time, ages ...time.Duration) {
	t.Helper()
	for _, age := range ages {
		if _, err := s.AppendAudit(testCtx(t), Audit{At: now.Add(-age), Actor: "op", Target: age.String()}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPruneAudit(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name      string
		retention time.Duration
		ages      []time.Duration
		wantGone  int64
		wantLeft  []string // targets left, newest first
	}{
		{"nothing old", 400 * day, []time.Duration{day, 10 * day}, 0, []string{(10 * day).String(), day.String()}},
		{"older than the retention go", 400 * day, []time.Duration{500 * day, 401 * day, 399 * day, time.Hour},
			2, []string{(399 * day).String(), time.Hour.String()}},
		{"exactly at the cutoff stays", 30 * day, []time.Duration{30 * day, 30*day + time.Nanosecond}, 1, []string{(30 * day).String()}},
		{"retention 0 keeps everything", 0, []time.Duration{5000 * day, day}, 0, []string{day.String(), (5000 * day).String()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openAt(t, ":memory:")
			auditAt(t, s, now, tc.ages...)
			var logs bytes.Buffer
			p, err := NewAuditPruner(AuditPruneConfig{Retention: tc.retention, Now: func() time.Time { return now }},
				slog.New(slog.NewTextHandler(&logs, nil)), s)
			if err != nil {
				t.Fatal(err)
			}
			n, err := p.Prune(testCtx(t))
			if err != nil || n != tc.wantGone {
				t.Fatalf("Prune = %d, %v; want %d", n, err, tc.wantGone)
			}
			left, err := s.ListAudit(testCtx(t), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range left {
				got = append(got, a.Target)
			}
			// ListAudit is newest first by id; ids follow insertion order.
			want := map[string]bool{}
			for _, w := range tc.wantLeft {
				want[w] = true
			}
			if len(got) != len(tc.wantLeft) {
				t.Fatalf("left %v, want %v", got, tc.wantLeft)
			}
			for _, g := range got {
				if !want[g] {
					t.Errorf("left %v, want %v", got, tc.wantLeft)
				}
			}
			if tc.retention > 0 && !strings.Contains(logs.String(), "deleted="+strconv.FormatInt(tc.wantGone, 10)) {
				t.Errorf("log does not give the count: %s", logs.String())
			}
		})
	}
}

// Run prunes at once, then on each tick, against the injected clock.
func TestAuditPrunerRun(t *testing.T) {
	s := openAt(t, ":memory:")
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	// 10 and 20 days old now; the 20-day one is past a 15-day retention.
	auditAt(t, s, start, 10*24*time.Hour, 20*24*time.Hour)
	var logs testkit.LogBuffer
	p, err := NewAuditPruner(AuditPruneConfig{Retention: 15 * 24 * time.Hour, Every: 10 * time.Millisecond, Now: clock},
		slog.New(slog.NewTextHandler(&logs, nil)), s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	run := testkit.Start(t, "audit pruner", p.Run)
	count := func() int {
		a, err := s.ListAudit(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(a)
	}
	testkit.WaitFor(t, ctx, "the first prune", func() bool { return count() == 1 })
	// Six days later the other entry is 16 days old: the next tick takes it.
	mu.Lock()
	now = start.Add(6 * 24 * time.Hour)
	mu.Unlock()
	testkit.WaitFor(t, ctx, "a later prune", func() bool { return count() == 0 })
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "audit log pruned") || !strings.Contains(logs.String(), "deleted=1") {
		t.Errorf("log: %s", logs.String())
	}
}

func TestAuditPrunerForever(t *testing.T) {
	s := openAt(t, ":memory:")
	auditAt(t, s, time.Now(), 10000*24*time.Hour)
	p, err := NewAuditPruner(AuditPruneConfig{}, slog.New(slog.DiscardHandler), s)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.ListAudit(testCtx(t), 0, 0); len(a) != 1 {
		t.Fatalf("retention 0 deleted entries: %d left", len(a))
	}
	if _, err := NewAuditPruner(AuditPruneConfig{Retention: -time.Hour}, slog.New(slog.DiscardHandler), s); err == nil {
		t.Error("a negative retention was accepted")
	}
}
