package mixer

import (
	"slices"
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
			{ms(33), ms(1033 + 40), 0, ms(1033)},
		}, 0},
		{"an early frame lowers the offset", []arrival{
			{ms(0), ms(1000), 0, ms(1000)},
			{ms(33), ms(1020), 0, ms(1020)},
			{ms(66), ms(1053), 0, ms(1053)},
		}, 0},
		{"audio shares the offset of video", []arrival{
			{ms(0), ms(1000), 0, ms(1000)},
			{ms(20), ms(1025), 1, ms(1020)},
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

// TestPacerBurstyAudio: an encoder that sends its sound in half-second
// bursts (ffmpeg's RTP AAC) with pictures on time. Once warmed up, no frame
// of either kind is later than the mixers absorb, and sound and picture
// keep one offset (their stamps keep the camera's own A/V relation).
func TestPacerBurstyAudio(t *testing.T) {
	const (
		base  = time.Second
		burst = 500 * time.Millisecond
	)
	type arrival struct {
		pts, now time.Duration
		kind     int
	}
	var in []arrival
	for v := time.Duration(0); v < 12*time.Second; v += time.Second / 30 {
		in = append(in, arrival{v, v + base, 0})
	}
	for a := time.Duration(0); a < 12*time.Second; a += 20 * time.Millisecond {
		// Sent at the end of its burst, 100 ms later than the pictures.
		sent := (a/burst + 1) * burst
		in = append(in, arrival{a, sent + base + 100*time.Millisecond, 1})
	}
	slices.SortStableFunc(in, func(x, y arrival) int { return int(x.now - y.now) })

	var p pacer
	lateAfterWarmup := 0
	var offsets [2][]time.Duration
	for _, f := range in {
		stamp := p.place(f.pts, f.now, f.kind)
		if f.now < 5*time.Second {
			continue
		}
		if f.now-stamp > lateTolerance {
			lateAfterWarmup++
		}
		offsets[f.kind] = append(offsets[f.kind], stamp-f.pts)
	}
	if lateAfterWarmup > 0 {
		t.Errorf("%d frames later than %v after warm-up", lateAfterWarmup, lateTolerance)
	}
	v, a := offsets[0][len(offsets[0])-1], offsets[1][len(offsets[1])-1]
	if d := v - a; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("video offset %v, audio offset %v: not one offset", v, a)
	}
	if p.rebase != 0 {
		t.Errorf("rebased %d times", p.rebase)
	}
}

// TestPacerHiccup: one stall of 400 ms on an otherwise steady feed does not
// raise the delay for the frames after it.
func TestPacerHiccup(t *testing.T) {
	var p pacer
	var last time.Duration
	for v := time.Duration(0); v < 10*time.Second; v += time.Second / 30 {
		now := v + time.Second
		if v >= 5*time.Second && v < 5400*time.Millisecond {
			now = 5400*time.Millisecond + time.Second // held, then all at once
		}
		last = p.place(v, now, 0) - v
	}
	if last != time.Second {
		t.Errorf("offset after the hiccup %v, want %v", last, time.Second)
	}
}

// TestPacerHoldForSubStream: a camera's main stream carries bursty sound,
// its sub-stream pictures only, both from one capture. The sub-stream's
// own pacer does not wait for sound; held back by the main pacer's hold
// over its own, its pictures get the stamps of the main stream's pictures
// of the same instant, so lip sync survives the switch to the sub-stream.
func TestPacerHoldForSubStream(t *testing.T) {
	const (
		base  = time.Second
		burst = 500 * time.Millisecond
		// The sub-stream's timeline starts at its own connection; stamps
		// are on the mix's timeline either way.
		subBase = 3 * time.Second
	)
	type arrival struct {
		pts, now time.Duration
		kind     int
		sub      bool
	}
	var in []arrival
	for v := time.Duration(0); v < 12*time.Second; v += time.Second / 30 {
		in = append(in, arrival{v, v + base, 0, false}, arrival{v + subBase, v + base, 0, true})
	}
	for a := time.Duration(0); a < 12*time.Second; a += 20 * time.Millisecond {
		sent := (a/burst + 1) * burst
		in = append(in, arrival{a, sent + base + 100*time.Millisecond, 1, false})
	}
	slices.SortStableFunc(in, func(x, y arrival) int { return int(x.now - y.now) })
	var main, sub pacer
	var lastMain, lastSub time.Duration
	for _, f := range in {
		if f.sub {
			lastSub = sub.place(f.pts, f.now, 0) + max(0, main.hold()-sub.hold())
			continue
		}
		s := main.place(f.pts, f.now, f.kind)
		if f.kind == 0 {
			lastMain = s
		}
	}
	t.Logf("main hold %v, sub hold %v; last picture stamped %v (main) and %v (sub, on the main timeline)", main.hold(), sub.hold(), lastMain, lastSub)
	if main.hold() < 300*time.Millisecond {
		t.Errorf("main hold %v: the bursts should hold pictures back", main.hold())
	}
	if d := lastSub - lastMain; d < -5*time.Millisecond || d > 5*time.Millisecond {
		t.Errorf("the sub-stream's picture is stamped %v from the main stream's of the same instant", d)
	}
}
