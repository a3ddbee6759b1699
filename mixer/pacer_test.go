package mixer

import (
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	type arrival struct {
		pts, now time.Duration
		kind     int
		want     time.Duration
	}
	tests := []struct {
		name   string
		frames []arrival
		rebase int
	}{
		{"steady frames keep the first offset", []arrival{
			{ms(0), ms(1000), 0, ms(1000)},
			{ms(33), ms(1033), 0, ms(1033)},
			{ms(66), ms(1066), 0, ms(1066)},
		}, 0},
		{"a late frame stays in its slot", []arrival{
			{ms(0), ms(1000), 0, ms(1000)},
			{ms(33), ms(1033 + 40), 0, ms(1033) + ms(40)>>driftShift},
		}, 0},
		{"an early frame lowers the offset", []arrival{
			{ms(0), ms(1000), 0, ms(1000)},
			{ms(33), ms(1020), 0, ms(1020)},
			{ms(66), ms(1053), 0, ms(1053)},
		}, 0},
		{"audio shares the offset of video", []arrival{
			{ms(0), ms(1000), 0, ms(1000)},
			{ms(20), ms(1025), 1, ms(1020) + ms(5)>>driftShift},
		}, 0},
		{"a stall restarts from the next frame", []arrival{
			{ms(0), ms(1000), 0, ms(1000)},
			{ms(33), ms(3000), 0, ms(3000)},
			{ms(66), ms(3033), 0, ms(3033)},
		}, 1},
		{"a timeline jump back restarts", []arrival{
			{ms(50000), ms(1000), 0, ms(1000)},
			{ms(0), ms(1033), 0, ms(1033)},
		}, 1},
		{"stamps never go backwards", []arrival{
			{ms(100), ms(1000), 0, ms(1000)},
			{ms(100), ms(999), 0, ms(1000) + time.Microsecond},
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p pacer
			for i, f := range tt.frames {
				if got := p.place(f.pts, f.now, f.kind); got != f.want {
					t.Errorf("frame %d: stamped %v, want %v", i, got, f.want)
				}
			}
			if p.rebase != tt.rebase {
				t.Errorf("rebased %d times, want %d", p.rebase, tt.rebase)
			}
		})
	}
}
