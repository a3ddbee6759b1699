package mixer

import "time"

// Pacer constants. A camera's timestamps keep their spacing on the mix's
// clock; only the offset between the two timelines moves.
const (
	// rebaseAfter: a frame this much later than its slot means the camera
	// stalled or its timeline jumped (reconnect): start over from it.
	rebaseAfter = 700 * time.Millisecond
	// rebaseBefore: a frame this much earlier than its slot is a jump
	// backwards of the camera's timeline.
	rebaseBefore = 2 * time.Second
	// driftShift smooths late arrivals: the offset creeps 1/64 of the way
	// towards them, following a camera clock slower than ours or a path
	// whose delay grew, without chasing every burst of jitter.
	driftShift = 6
)

// pacer places one point's frames on the mix's running time by arrival,
// smoothed: offset = min(arrival - pts), so a frame that arrives early is
// held to its slot and one that arrives late (jitter) is stamped in its
// slot, in the past by its lateness, which the mix's latency absorbs; the
// compositor drops what is later than that. Audio and video of a point
// share one pacer, so they stay in sync (DESIGN.md, Timing).
type pacer struct {
	offset time.Duration
	set    bool
	last   [2]time.Duration // last stamp per kind, to keep stamps rising
	rebase int
}

// place maps a frame's pts (on the camera's timeline) arriving at now (the
// mix's running time) to its stamp on the mix's timeline. kind 0 is video,
// 1 audio.
func (p *pacer) place(pts, now time.Duration, kind int) time.Duration {
	d := now - pts
	switch {
	case !p.set || d-p.offset > rebaseAfter || p.offset-d > rebaseBefore:
		if p.set {
			p.rebase++
		}
		p.offset, p.set = d, true
		p.last = [2]time.Duration{}
	case d < p.offset:
		p.offset = d
	default:
		p.offset += (d - p.offset) >> driftShift
	}
	out := pts + p.offset
	if out <= p.last[kind] {
		out = p.last[kind] + time.Microsecond
	}
	p.last[kind] = out
	return out
}
