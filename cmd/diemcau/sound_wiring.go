package main

import (
	"time"

	"diemcau/control/checks"
	"diemcau/control/sessions"
)

// checkSound lets the pre-session check hear each point through a running
// session's composite (the probe alone cannot: it does not decode).
func checkSound(mgr *sessions.Manager) func(sessionID, pointID string) (checks.Sound, bool) {
	return func(sessionID, pointID string) (checks.Sound, bool) {
		s, ok := mgr.Sound(sessionID, pointID)
		if !ok {
			return checks.Sound{}, false
		}
		out := checks.Sound{Measured: s.Measured, RMSDBFS: s.RMSDBFS, Silent: s.Silent}
		if s.Silent {
			out.QuietFor = time.Since(s.QuietSince)
		}
		return out, true
	}
}
