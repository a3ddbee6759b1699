package mixer

import "time"

// monotonic keeps the composite's picture times moving forward. The
// compositor's output timeline has been seen to step back (about 100 ms,
// then going on from there on a new grid) once in a while when points
// join and leave a running composite; every reader downstream — WHEP
// (which takes times going back for B-frames), the RTSP re-serve, the
// archive — needs them to only ever increase. A step back shifts every
// later picture forward by what it takes to follow on from the last one.
type monotonic struct {
	offset  time.Duration // added to every picture's times
	last    time.Duration // the last time handed out; -1 before the first
	steps   uint64        // steps back corrected so far
	stepped time.Duration // the latest correction
}

func newMonotonic() monotonic { return monotonic{last: -1} }

// fix returns pts and dts moved by the current offset, first raising the
// offset when pts would not follow the last picture by at least one frame
// duration dur.
func (m *monotonic) fix(pts, dts, dur time.Duration) (time.Duration, time.Duration, bool) {
	stepped := false
	if m.last >= 0 && pts+m.offset <= m.last {
		m.stepped = m.last + dur - (pts + m.offset)
		m.offset += m.stepped
		m.steps++
		stepped = true
	}
	pts, dts = pts+m.offset, dts+m.offset
	m.last = pts
	return pts, dts, stepped
}
