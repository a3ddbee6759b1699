package mixer

import (
	"time"

	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// Stats describe a running composite, for metrics and the session status
// (docs/api.md, session status: mixer {fps, encoder, dropped}).
type Stats struct {
	// FPS is the composite pictures encoded per second, over the last second.
	FPS float64
	// Frames is the composite pictures encoded so far.
	Frames uint64
	// Dropped counts frames lost on the way: points' frames the mix could
	// not take, and composite pictures no encoder took.
	Dropped uint64
	// LatencyP50 and LatencyP95 are the mix's own delay, from a point's
	// frame entering the mix to the composite picture showing it leaving the
	// encoder, over the recent pictures.
	LatencyP50, LatencyP95, LatencyP99 time.Duration
	// Encoder is the element encoding the composite now; EncoderRestarts
	// counts the run-time fallbacks to another one.
	Encoder         string
	EncoderHardware bool
	EncoderRestarts uint64
	// Decoder is the H.264 decoder new point branches use; DecoderRestarts
	// counts the run-time fallbacks from a failed hardware decoder.
	Decoder         string
	DecoderHardware bool
	DecoderRestarts uint64
	// TimeSteps counts the times the compositor's timeline stepped back and
	// the pictures after were shifted to follow on (see monotonic).
	TimeSteps uint64
	Points    []PointStats
}

// PointStats describe one point's input.
type PointStats struct {
	ID        string
	Live      bool      // pictures arriving; false shows the slate
	LostSince time.Time // when the slate went up, while not Live
	Losses    uint64    // times the slate went up
	Pictures  uint64    // decoded pictures that reached the compositor
	Pushed    uint64    // coded frames into the mix
	Dropped   uint64    // coded frames lost: behind, waiting for a keyframe, no decoder yet
	// Feed is the stream whose pictures the tile decodes: "main", or "sub"
	// for a camera's sub-stream; "" before the first picture.
	Feed string
	// FeedSwitches counts changes between the two; FeedSwitchGap is the
	// last one's step on the mix's timeline, from the old feed's last
	// picture to the new one's first, as the new feed's pacer placed it:
	// within about a frame either way means no hole (a step back is
	// overlap, and the new picture follows the old one by a microsecond).
	FeedSwitches  uint64
	FeedSwitchGap time.Duration
	Audio         PointAudio
}

// Stats returns the current figures; safe from any goroutine.
func (m *Mixer) Stats() Stats {
	s := Stats{Frames: m.frames.Load(), EncoderRestarts: m.encoderRestarts.Load(), DecoderRestarts: m.decoderRestarts.Load(), TimeSteps: m.timeSteps.Load()}
	d := m.decoderChoice()
	s.Decoder, s.DecoderHardware = d.Element, d.Hardware
	s.LatencyP50, s.LatencyP95, s.LatencyP99 = m.latency.percentiles()
	if e := m.encoder.Load(); e != nil {
		c := e.Choice()
		s.Encoder, s.EncoderHardware = c.Element, c.Hardware
	}
	m.statsMu.Lock()
	s.FPS = m.fps
	for _, slot := range m.order {
		s.Points = append(s.Points, m.points[slot])
	}
	m.statsMu.Unlock()
	for _, p := range s.Points {
		s.Dropped += p.Dropped
	}
	if mix := m.mix.Load(); mix != nil {
		_, raw := mix.RawCounts()
		s.Dropped += raw
	}
	return s
}

// fpsWindow is the span the FPS figure is measured over.
const fpsWindow = time.Second

// updateStats refreshes the per-point figures and the FPS (owner tick).
func (m *Mixer) updateStats(mix *gst.Mix, run []pointRun, order []int, now time.Time) {
	m.statsMu.Lock()
	defer m.statsMu.Unlock()
	m.order = append(m.order[:0], order...)
	for i := range run {
		if !mix.HasPoint(i) || run[i].gen == 0 {
			continue
		}
		p := &m.points[i]
		p.ID = run[i].id
		_, p.Pictures = mix.LastPicture(i)
		p.Live = !run[i].sig.lost
		p.Audio = run[i].sound.audio
		p.LostSince, p.Losses = time.Time{}, run[i].sig.losses
		if run[i].sig.lost {
			p.LostSince = run[i].sig.since
		}
		p.Pushed, p.Dropped = 0, m.feedDropped[i].Load()
		p.Feed = feedName(int(m.feedInUse[i].Load()))
		p.FeedSwitches, p.FeedSwitchGap = m.feedSwitches[i].Load(), time.Duration(m.feedSwitchGap[i].Load())
		for _, k := range []pipeline.Kind{pipeline.Video, pipeline.Audio} {
			pushed, dropped := mix.Input(i, k).Counts()
			p.Pushed += pushed
			p.Dropped += dropped
		}
	}
	if m.fpsAt.IsZero() {
		m.fpsAt, m.fpsFrames = now, m.frames.Load()
		return
	}
	if d := now.Sub(m.fpsAt); d >= fpsWindow {
		f := m.frames.Load()
		m.fps = float64(f-m.fpsFrames) / d.Seconds()
		m.fpsAt, m.fpsFrames = now, f
	}
}
