package mixer

import (
	"slices"
	"time"
)

// Pacer constants. A camera's timestamps keep their spacing on the mix's
// clock; only the offset between the two timelines moves.
const (
	// rebaseAfter: a frame this much later than its slot means the camera
	// stalled or its timeline jumped (reconnect): start over from it.
	rebaseAfter = 1500 * time.Millisecond
	// rebaseBefore: a frame this much earlier than its slot is a jump
	// backwards of the camera's timeline.
	rebaseBefore = 2 * time.Second
	// pacerWindow and pacerWindows: arrivals are summed up per window of
	// the mix's clock, and the last few windows set the delay.
	pacerWindow  = time.Second
	pacerWindows = 8
	// pacerWarmup: windows before the spread of arrivals counts. The first
	// frames of a feed come from the stream's keyframe cache, all at once,
	// and say nothing about the path's jitter.
	pacerWarmup = 3
	// lateTolerance: lateness the mixers' own wait absorbs (it must stay
	// under gst.DefaultMixLatency); only what exceeds it delays the point.
	lateTolerance = 20 * time.Millisecond
	// offsetEase: how far the offset comes down per frame once the path
	// got faster or calmer. Coming down means stamps closer together than
	// the camera's, so it goes by a millisecond at a time: a sound frame
	// loses one millisecond, a picture is shown one millisecond shorter.
	offsetEase = time.Millisecond
)

// arrivalWindow is the earliest and latest arrival (now - pts) of a point's
// frames in one pacerWindow of the mix's clock.
type arrivalWindow struct {
	idx      int64
	min, max time.Duration
	used     bool
	warmup   bool // opened during the warm-up: its lateness does not count
}

// pacer places one point's frames on the mix's running time by arrival,
// with a jitter buffer: offset = the earliest arrival (the path's floor)
// plus the spread of late arrivals seen recently. A frame that arrives
// early is held to its slot; one that arrives late by up to lateTolerance
// is absorbed by the mixers' wait; the compositor drops what comes later
// than that.
//
// Audio and video of a point share one pacer, and so one offset: they stay
// in sync even when they arrive differently. Encoders and cameras that
// send their sound in bursts (ffmpeg packs up to half a second of AAC into
// one RTP packet) deliver audio hundreds of milliseconds later than the
// pictures it belongs with; a floor-only offset followed the pictures and
// the mix heard the sound a quarter second before it saw the lips move,
// clipping the late part. The spread holds the pictures back instead.
//
// The spread is the second-worst window of the last pacerWindows: a
// lateness that recurs (bursts) is absorbed; a one-off hiccup is not, so
// that a single network stall does not add its length to the delay.
type pacer struct {
	offset time.Duration
	set    bool
	last   [2]time.Duration // last stamp per kind, to keep stamps rising
	rebase int
	win    [pacerWindows]arrivalWindow
	wins   int // windows opened since the last reset
}

// place maps a frame's pts (on the camera's timeline) arriving at now (the
// mix's running time) to its stamp on the mix's timeline. kind 0 is video,
// 1 audio.
func (p *pacer) place(pts, now time.Duration, kind int) time.Duration {
	d := now - pts
	if !p.set || d-p.offset > rebaseAfter || p.offset-d > rebaseBefore {
		if p.set {
			p.rebase++
		}
		p.reset(d)
	}
	p.note(now, d)
	target := p.target()
	switch {
	case target >= p.offset || p.wins < pacerWarmup:
		p.offset = target
	default:
		p.offset = max(target, p.offset-offsetEase)
	}
	out := pts + p.offset
	if out <= p.last[kind] {
		out = p.last[kind] + time.Microsecond
	}
	p.last[kind] = out
	return out
}

func (p *pacer) reset(d time.Duration) {
	p.offset, p.set = d, true
	p.last = [2]time.Duration{}
	p.win = [pacerWindows]arrivalWindow{}
	p.wins = 0
}

// note adds one arrival to the window of now.
func (p *pacer) note(now, d time.Duration) {
	idx := int64(now / pacerWindow)
	w := &p.win[idx%pacerWindows]
	if !w.used || w.idx != idx {
		*w = arrivalWindow{idx: idx, min: d, max: d, used: true, warmup: p.wins < pacerWarmup}
		p.wins++
		return
	}
	w.min, w.max = min(w.min, d), max(w.max, d)
}

// hold is how far the offset stands above the floor of the recent
// arrivals: what the jitter buffer holds frames back by beyond the path's
// own delay (bursty sound makes it large).
func (p *pacer) hold() time.Duration {
	var floor time.Duration
	seen := false
	for _, w := range p.win {
		if w.used && (!seen || w.min < floor) {
			floor, seen = w.min, true
		}
	}
	if !seen {
		return 0
	}
	return max(0, p.offset-floor)
}

// target is the offset the recent arrivals ask for: the floor, plus the
// recurring lateness beyond what the mixers absorb.
func (p *pacer) target() time.Duration {
	var floor time.Duration
	seen := false
	var maxes [pacerWindows]time.Duration
	n := 0
	for _, w := range p.win {
		if !w.used {
			continue
		}
		if !seen || w.min < floor {
			floor, seen = w.min, true
		}
		if !w.warmup {
			maxes[n] = w.max
			n++
		}
	}
	if n < 2 {
		return floor
	}
	late := maxes[:n]
	slices.Sort(late)
	spread := late[n-2] - floor // the second-worst window
	return floor + max(0, spread-lateTolerance)
}
