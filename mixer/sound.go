package mixer

import (
	"time"

	"diemcau/pipeline/gst"
)

// A muted microphone at a commune is the commonest fault of a session: the
// picture is fine, so nobody notices until the citizen has spoken to no one.
// Each point's sound is measured in the mix (gst.Level, before the
// operator's gain and mute) and a point whose picture is live but whose
// sound stays below Config.SilentBelow for Config.SilentAfter is flagged
// silent: in its stats, the session status, the metrics and the log.

// Defaults of Config.SilentAfter and Config.SilentBelow.
const (
	DefaultSilentAfter = 10 * time.Second
	// DefaultSilentBelow is far under speech (-30 to -15 dBFS RMS) and
	// under the hiss of an open microphone in a quiet room, yet far above
	// the digital silence of a muted one.
	DefaultSilentBelow = -60.0
)

// levelStale: a reading older than this means the point's sound stopped
// reaching the mix (readings come every gst.LevelInterval while it flows).
const levelStale = time.Second

// PointAudio is a point's sound as the mix hears it, before its gain and
// mute.
type PointAudio struct {
	// Measured: the point's audio reaches the mix (a reading within the
	// last second). Without it the levels are not meaningful.
	Measured bool
	// PeakDBFS and RMSDBFS are the last reading (gst.LevelInterval of
	// audio), of the loudest channel; gst.LevelFloorDBFS for digital silence.
	PeakDBFS, RMSDBFS float64
	// Silent: the picture is live, the operator has not muted the point,
	// and no sound above Config.SilentBelow came for Config.SilentAfter.
	Silent bool
	// QuietSince is when the present quiet stretch began (zero while the
	// point is heard, muted, or without picture); Silent once it is
	// SilentAfter old.
	QuietSince time.Time
}

// sound follows one point's audio for the silence alert (owner only).
type sound struct {
	audio PointAudio
}

// update takes the point's latest level reading and whether it can be
// judged at all (picture live, not muted by the operator), and reports
// whether Silent changed.
func (s *sound) update(now time.Time, lvl gst.Level, have, judged bool, after time.Duration, below float64) bool {
	a := &s.audio
	a.Measured = have && now.Sub(lvl.At) < levelStale
	a.PeakDBFS, a.RMSDBFS = gst.LevelFloorDBFS, gst.LevelFloorDBFS
	if a.Measured {
		a.PeakDBFS, a.RMSDBFS = lvl.PeakDBFS, lvl.RMSDBFS
	}
	heard := a.Measured && a.RMSDBFS >= below
	switch {
	case !judged || heard:
		a.QuietSince = time.Time{}
	case a.QuietSince.IsZero():
		a.QuietSince = now
	}
	silent := !a.QuietSince.IsZero() && now.Sub(a.QuietSince) >= after
	changed := silent != a.Silent
	a.Silent = silent
	return changed
}

// updateSounds refreshes every point's sound and logs each point entering
// and leaving the silent state once.
func (m *Mixer) updateSounds(mix *gst.Mix, run []pointRun, c controls, now time.Time) {
	for i := range run {
		if !mix.HasPoint(i) || run[i].gen == 0 {
			continue
		}
		lvl, have := mix.Level(i)
		muted := true
		if i < len(c.points) && c.points[i].gen == run[i].gen {
			muted = c.points[i].muted || c.points[i].gain == 0
		}
		judged := !run[i].sig.lost && !muted
		s := &run[i].sound
		if !s.update(now, lvl, have, judged, m.cfg.SilentAfter, m.cfg.SilentBelow) {
			continue
		}
		if s.audio.Silent {
			m.log.Warn("point silent: its picture is live but no sound comes", "point", run[i].id,
				"for", now.Sub(s.audio.QuietSince).Round(time.Second), "below_dbfs", m.cfg.SilentBelow,
				"audio_reaches_mix", s.audio.Measured)
			continue
		}
		why := "sound"
		switch {
		case muted:
			why = "muted by the operator"
		case run[i].sig.lost:
			why = "picture lost"
		}
		m.log.Info("point no longer silent", "point", run[i].id, "because", why)
	}
}
