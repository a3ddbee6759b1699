package mixer

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// soundAheadLimit: a full-mix frame stamped this far past the composite's
// clock is a jump of the mix's timeline, not an encoder's lookahead.
const soundAheadLimit = time.Second

// soundJumpMessage is the warning of a jump.
const soundJumpMessage = "composite sound jumped ahead of its clock: the points' sound until the clock catches up is lost"

// soundClock watches the full mix's frames against the composite's clock.
// A live mix cannot make sound before its time. It did, on a loaded
// machine, at every few starts: the full-mix audiomixer had the pipeline's
// clock before its base time, took every wait as late and made silence as
// fast as it could, 1 to 13 s of it; then it waited for the clock and
// dropped what the points sent meanwhile, in the composite and the archive
// alike (docs/timing.md). The mixer now starts at its first input
// (gst's start-time-selection=first); this watch stays, so that a return
// is a warning in the log, not a silent archive found later.
type soundClock struct {
	log   *slog.Logger
	ahead bool // the last frame was past the limit (drain goroutine only)
	jumps atomic.Uint64
}

// check takes a full-mix frame's time and the clock's (running time, -1
// before the composite runs).
func (c *soundClock) check(pts, now time.Duration) {
	if now < 0 || pts-now < soundAheadLimit {
		c.ahead = false
		return
	}
	if c.ahead {
		return
	}
	c.ahead = true
	c.jumps.Add(1)
	c.log.Warn(soundJumpMessage, "ahead", (pts - now).Round(time.Millisecond), "clock", now.Round(time.Millisecond))
}
