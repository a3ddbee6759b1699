package checks

import (
	"fmt"
	"time"

	"diemcau/control/store"
)

// Sound is what a running session's composite measures of one point's
// sound. The check's probe reads a feed without decoding it, so it cannot
// hear a muted microphone; the composite can, but only while the session
// runs (a rehearsal is the time: Decision 354 asks for the check two hours
// before, with every point connected).
type Sound struct {
	// Measured: the point's audio reaches the mix.
	Measured bool
	RMSDBFS  float64
	// Silent: picture live, not muted by the operator, no sound for
	// QuietFor (past the composite's threshold, 10 s by default).
	Silent   bool
	QuietFor time.Duration
}

// checkSound warns about a point the running composite hears nothing from.
// Not running, it says nothing: nothing was measured.
func (c *Checker) checkSound(sessionID string, pc *store.PointCheck) {
	if c.deps.Sound == nil {
		return
	}
	s, ok := c.deps.Sound(sessionID, pc.PointID)
	if !ok || !s.Silent {
		return
	}
	why := "its audio does not reach the composite"
	if s.Measured {
		why = fmt.Sprintf("its level is %.0f dBFS RMS", s.RMSDBFS)
	}
	pc.Verdict = worse(pc.Verdict, store.VerdictWarn)
	pc.Reasons = append(pc.Reasons, fmt.Sprintf(
		"no sound for %d s while its picture is live (%s): check the point's microphone, its mixer and the camera's audio input",
		int(s.QuietFor.Round(time.Second).Seconds()), why))
}
