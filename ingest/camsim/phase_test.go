package camsim

import (
	"testing"
	"time"
)

func TestPatternPhase(t *testing.T) {
	tests := []struct {
		name string
		i, n int
		want time.Duration
	}{
		{"one camera", 1, 1, 0},
		{"first of four", 1, 4, 0},
		{"second of four", 2, 4, 250 * time.Millisecond},
		{"last of four", 4, 4, 750 * time.Millisecond},
		{"third of three", 3, 3, 666666666},
		{"eight keep 125 ms apart", 8, 8, 875 * time.Millisecond},
		{"no cameras", 1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PatternPhase(tc.i, tc.n); got != tc.want {
				t.Errorf("PatternPhase(%d, %d) = %v, want %v", tc.i, tc.n, got, tc.want)
			}
		})
	}
}

func TestPatternEpoch(t *testing.T) {
	base := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		now  time.Duration // into the hour
		i, n int
		want time.Duration
	}{
		{"on the second", 5 * time.Second, 1, 4, 5 * time.Second},
		{"phase already passed this second", 5*time.Second + 300*time.Millisecond, 2, 4, 5*time.Second + 250*time.Millisecond},
		{"phase still to come: the second before", 5*time.Second + 100*time.Millisecond, 3, 4, 4*time.Second + 500*time.Millisecond},
		{"exactly on the phase", 7*time.Second + 750*time.Millisecond, 4, 4, 7*time.Second + 750*time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := patternEpoch(base.Add(tc.now), tc.i, tc.n)
			if want := base.Add(tc.want); !got.Equal(want) {
				t.Errorf("patternEpoch = %v, want %v", got.Sub(base), tc.want)
			}
			if got.After(base.Add(tc.now)) {
				t.Error("the epoch is after now: the first frame numbers would be negative")
			}
		})
	}
	// With a monotonic reading, the epoch keeps it: it lies on the wall
	// clock's phase all the same.
	now := time.Now()
	e := patternEpoch(now, 2, 4)
	if into := e.Sub(e.Truncate(time.Second)); into != 250*time.Millisecond || e.After(now) || now.Sub(e) >= time.Second {
		t.Errorf("epoch %v of now %v: %v into its second", e, now, into)
	}
}
