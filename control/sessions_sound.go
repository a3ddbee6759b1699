package control

import (
	"math"
	"net/http"
	"time"

	"diemcau/control/sessions"
)

// levelView is a point's sound level (docs/api.md: level {peak_dbfs,
// rms_dbfs}), measured in the composite before the operator's gain and
// mute, of its loudest channel over the last 100 ms.
type levelView struct {
	PeakDBFS float64 `json:"peak_dbfs"`
	RMSDBFS  float64 `json:"rms_dbfs"`
}

// soundView is the sound part of a point's status. Level is absent while
// no audio of the point reaches the composite (none sent, or the session
// is not running); Silent is the alert: a live picture without sound.
type soundView struct {
	Level  *levelView `json:"level,omitempty"`
	Silent bool       `json:"silent"`
	// SilentForS is how long the point has had no sound, while Silent.
	SilentForS float64 `json:"silent_for_s,omitempty"`
}

// soundOf is point id's sound among the composite's points.
func soundOf(points []sessions.PointSignal, id string, now time.Time) soundView {
	for _, p := range points {
		if p.ID == id {
			return soundOfPoint(p.Sound, now)
		}
	}
	return soundView{}
}

func soundOfPoint(s sessions.PointSound, now time.Time) soundView {
	var v soundView
	if s.Measured {
		v.Level = &levelView{PeakDBFS: round1(s.PeakDBFS), RMSDBFS: round1(s.RMSDBFS)}
	}
	if s.Silent {
		v.Silent = true
		v.SilentForS = math.Round(now.Sub(s.QuietSince).Seconds())
	}
	return v
}

// round1 keeps a tenth of a dB: finer is noise on a meter.
func round1(x float64) float64 { return math.Round(x*10) / 10 }

// pointLevels is one point in the levels answer.
type pointLevels struct {
	ID string `json:"id"`
	soundView
}

// handleSessionLevels answers the points' levels alone, for the console's
// meters, which poll faster than the session status is worth reading.
func (s *Server) handleSessionLevels(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	live, running := s.deps.Sessions.Status(id)
	if !running {
		// Not running: no levels, but an unknown session is still a 404.
		if _, err := s.deps.Store.GetSession(r.Context(), id); err != nil {
			writeStoreError(w, err)
			return
		}
	}
	out := struct {
		Running bool          `json:"running"`
		Points  []pointLevels `json:"points"`
	}{Running: running, Points: []pointLevels{}}
	if live.Mixer != nil {
		now := time.Now()
		for _, p := range live.Mixer.Points {
			out.Points = append(out.Points, pointLevels{ID: p.ID, soundView: soundOfPoint(p.Sound, now)})
		}
	}
	writeJSON(w, http.StatusOK, out)
}
