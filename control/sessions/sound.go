package sessions

import "time"

// PointSound is one point's sound as the composite hears it, before the
// operator's gain and mute (the mixer's level meter).
type PointSound struct {
	// Measured: the point's audio reaches the mix; without it the levels
	// mean nothing (no audio track, or it stopped).
	Measured bool
	// PeakDBFS and RMSDBFS are the latest reading (100 ms of audio), of the
	// loudest channel.
	PeakDBFS, RMSDBFS float64
	// Silent: the point's picture is live, the operator has not muted it,
	// and no sound has come from it since QuietSince, for longer than the
	// threshold (10 s by default).
	Silent     bool
	QuietSince time.Time
}

// Sound returns a point's sound in a running session's composite; false
// when the session is not running, has no composite, or the point is not
// in it.
func (m *Manager) Sound(sessionID, pointID string) (PointSound, bool) {
	live, ok := m.Status(sessionID)
	if !ok || live.Mixer == nil {
		return PointSound{}, false
	}
	for _, p := range live.Mixer.Points {
		if p.ID == pointID {
			return p.Sound, true
		}
	}
	return PointSound{}, false
}
