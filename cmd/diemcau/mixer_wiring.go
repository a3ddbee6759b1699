package main

import (
	"errors"
	"fmt"
	"log/slog"

	"diemcau/control/sessions"
	"diemcau/mixer"
	"diemcau/pipeline"
)

// mixerFactory builds a session's composite with the codecs chosen at
// start; nil when this machine has no working H.264 encoder or decoder, so
// sessions run (and record single feeds) without a composite. subs gives a
// source's sub-stream (nil: none), which only the composite reads.
func mixerFactory(media *mediaInfo, subs func(source string) (*pipeline.Stream, bool), log *slog.Logger) sessions.MixerFactory {
	if media.codecErr != nil {
		return nil
	}
	return func(spec sessions.Spec, inputs map[string]*pipeline.Stream) (sessions.Composite, error) {
		cfg := mixer.Config{
			Session: spec.ID,
			Output: mixer.Output{Width: spec.Output.Width, Height: spec.Output.Height, FPS: spec.Output.FPS, BitrateKbps: spec.Output.BitrateKbps,
				Low: lowFor(media.low, spec.Output.Width, spec.Output.Height)},
			Layout:  mixer.Layout(spec.Layout),
			Focus:   spec.Focus,
			Encoder: media.encChoice,
			Decoder: media.decChoice,
		}
		for _, p := range spec.Points {
			cfg.Points = append(cfg.Points, mixerPoint(p, inputs[p.ID], subs))
		}
		m, err := mixer.New(cfg, log, media.registry)
		if err != nil {
			return nil, err
		}
		return sessionMixer{m, subs}, nil
	}
}

// mixerPoint is a session's point as the mixer takes it.
func mixerPoint(p sessions.Point, s *pipeline.Stream, subs func(string) (*pipeline.Stream, bool)) mixer.Point {
	gain, muted := p.Gain, p.Muted
	if gain == 0 && !muted {
		// The mixer reads a zero gain as "unset"; a stored zero is silence.
		muted = true
	}
	var sub *pipeline.Stream
	if subs != nil {
		sub, _ = subs(p.Source)
	}
	return mixer.Point{ID: p.ID, Label: p.Label, Stream: s, Sub: sub, Gain: gain, Muted: muted}
}

// sessionMixer adapts the mixer to what the session runtime drives.
type sessionMixer struct {
	*mixer.Mixer
	subs func(string) (*pipeline.Stream, bool)
}

func (s sessionMixer) SetLayout(layout, focus string) error {
	return s.Mixer.SetLayout(mixer.Layout(layout), focus)
}

func (s sessionMixer) SetPoint(p sessions.Point) error {
	gain, muted, label := p.Gain, p.Muted, p.Label
	return s.Mixer.SetPoint(p.ID, mixer.PointUpdate{Gain: &gain, Muted: &muted, Label: &label})
}

func (s sessionMixer) AddPoint(p sessions.Point, stream *pipeline.Stream) error {
	err := s.Mixer.AddPoint(mixerPoint(p, stream, s.subs))
	if errors.Is(err, mixer.ErrFull) {
		return fmt.Errorf("%w: %w", sessions.ErrCompositeFull, err)
	}
	return err
}

func (s sessionMixer) Stats() sessions.CompositeStats {
	st := s.Mixer.Stats()
	out := sessions.CompositeStats{
		FPS: st.FPS, Encoder: st.Encoder, Decoder: st.Decoder, Dropped: st.Dropped,
		EncoderRestarts: st.EncoderRestarts, DecoderRestarts: st.DecoderRestarts, TimeSteps: st.TimeSteps,
		LatencyP50Ms: float64(st.LatencyP50.Microseconds()) / 1000,
		LatencyP95Ms: float64(st.LatencyP95.Microseconds()) / 1000,
		LatencyP99Ms: float64(st.LatencyP99.Microseconds()) / 1000,
	}
	for _, p := range st.Points {
		a := p.Audio
		out.Points = append(out.Points, sessions.PointSignal{ID: p.ID, Live: p.Live, Pictures: p.Pictures, Feed: p.Feed, Sound: sessions.PointSound{
			Measured: a.Measured, PeakDBFS: a.PeakDBFS, RMSDBFS: a.RMSDBFS, Silent: a.Silent, QuietSince: a.QuietSince,
		}})
	}
	return out
}
