package mixer

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"diemcau/internal/testkit"
)

// TestSoundClock: a full-mix frame stamped a second or more past the
// clock is one jump, logged once however many frames follow it ahead.
func TestSoundClock(t *testing.T) {
	ms := time.Millisecond
	steps := []struct {
		pts, now  time.Duration
		wantJumps uint64
	}{
		{20 * ms, -1, 0},            // before the composite runs
		{40 * ms, 30 * ms, 0},       // an encoder's lookahead
		{8750 * ms, 66 * ms, 1},     // the jump seen at start
		{8770 * ms, 90 * ms, 1},     // the same jump
		{9000 * ms, 8900 * ms, 1},   // caught up
		{12000 * ms, 9000 * ms, 2},  // a second jump
		{12020 * ms, 11500 * ms, 2}, // under a second ahead: caught up
	}
	var out testkit.LogBuffer
	c := soundClock{log: slog.New(slog.NewTextHandler(&out, nil))}
	for i, s := range steps {
		c.check(s.pts, s.now)
		if got := c.jumps.Load(); got != s.wantJumps {
			t.Errorf("step %d (pts %v, clock %v): %d jumps, want %d", i, s.pts, s.now, got, s.wantJumps)
		}
	}
	if n := strings.Count(out.String(), "composite sound jumped ahead of its clock"); n != 2 {
		t.Errorf("%d warnings, want 2:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "ahead=8.684s") {
		t.Errorf("the warning does not say how far ahead:\n%s", out.String())
	}
}
