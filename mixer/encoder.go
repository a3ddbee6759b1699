package mixer

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

const (
	// encoderStallAfter: an encoder that takes pictures but gives nothing
	// back for this long is treated as failed (a hung hardware session).
	encoderStallAfter = 3 * time.Second
	// encoderRetryPause: with no other candidate left, the last one is
	// retried after this pause rather than ending the session.
	encoderRetryPause = time.Second
)

// rendition is one encoding of the composite: the main one, or the low
// one fed the very same pictures (gst.Mix.SetRenditionEncoder).
type rendition struct {
	r       gst.Rendition
	params  gst.EncoderParams
	onFrame func(*pipeline.Frame)
	current *atomic.Pointer[gst.VideoEncoder]
}

func (m *Mixer) mainRendition() rendition {
	o := m.cfg.Output
	return rendition{r: gst.Main, onFrame: m.onVideo, current: &m.encoder,
		params: gst.EncoderParams{Width: o.Width, Height: o.Height, FPS: o.FPS, BitrateKbps: o.BitrateKbps, KeyInt: o.KeyInt}}
}

// lowRendition scales the composite's pictures to Output.Low in its
// encoder's pipeline; its keyframes come at the same interval.
func (m *Mixer) lowRendition() rendition {
	o := m.cfg.Output
	return rendition{r: gst.Low, onFrame: m.onLowVideo, current: &m.lowEncoder,
		params: gst.EncoderParams{Width: o.Low.Width, Height: o.Low.Height, FPS: o.FPS, BitrateKbps: o.Low.BitrateKbps,
			KeyInt: o.KeyInt, InWidth: o.Width, InHeight: o.Height}}
}

// runEncoder keeps one encoder running for a rendition of the composite.
// When it fails (a hardware session limit, a lost device, a stall) the next
// candidate in docs/architecture.md's order takes over — the composite runs
// on meanwhile and only the pictures in between are lost.
func (m *Mixer) runEncoder(ctx context.Context, mix *gst.Mix, rend rendition) error {
	params := rend.params
	choice := m.cfg.Encoder
	for {
		failedAt := time.Now()
		err := m.runOneEncoder(ctx, mix, choice, rend)
		if ctx.Err() != nil {
			return nil
		}
		m.encoderRestarts.Add(1)
		next, nerr := gst.NextEncoder(ctx, m.reg, choice, params, m.log)
		if nerr != nil {
			m.log.Error("encoder failed and no other works; retrying it", "element", choice.Element, "error", err, "next", nerr)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(encoderRetryPause):
			}
			continue
		}
		m.log.Warn("encoder failed; switched to the next", "rendition", rend.r, "failed", choice.Element, "error", err,
			"next", next.Element, "hardware", next.Hardware, "after", time.Since(failedAt).Round(time.Millisecond))
		choice = next
	}
}

// runOneEncoder runs one encoder until it fails, stalls or ctx ends.
func (m *Mixer) runOneEncoder(ctx context.Context, mix *gst.Mix, choice gst.Choice, rend rendition) error {
	enc, err := gst.NewVideoEncoder(choice, rend.params, rend.onFrame, m.log)
	if err != nil {
		return err
	}
	encCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- enc.Run(encCtx) }()
	rend.current.Store(enc)
	mix.SetRenditionEncoder(rend.r, enc)
	defer func() {
		mix.SetRenditionEncoder(rend.r, nil)
		rend.current.Store(nil)
	}()

	tick := time.NewTicker(encoderStallAfter / 4)
	defer tick.Stop()
	lastFrames, lastRaw := enc.Frames(), uint64(0)
	lastProgress := time.Now()
	for {
		select {
		case err := <-done:
			if err == nil && ctx.Err() == nil {
				err = errors.New("encoder stopped")
			}
			return err
		case <-tick.C:
			frames := enc.Frames()
			raw, _ := mix.RawCounts()
			if frames != lastFrames || raw == lastRaw {
				// Progress, or nothing to encode: not a stall.
				lastFrames, lastProgress = frames, time.Now()
			} else if time.Since(lastProgress) > encoderStallAfter {
				cancel()
				<-done
				return errors.New("encoder stalled: pictures in, nothing out")
			}
			lastRaw = raw
		}
	}
}

// onVideo receives each encoded composite picture (encoder pull goroutine).
func (m *Mixer) onVideo(f *pipeline.Frame) {
	dur := time.Second / time.Duration(m.cfg.Output.FPS)
	if now := m.runningTime(); now >= 0 {
		m.latency.out(f.PTS, dur, now)
	}
	var stepped bool
	f.PTS, f.DTS, stepped = m.times.fix(f.PTS, f.DTS, dur)
	if stepped {
		m.timeSteps.Add(1)
		m.log.Warn("composite times stepped back; later pictures shifted to follow on",
			"by", m.times.stepped, "corrections", m.times.steps)
	}
	m.frames.Add(1)
	m.out.writeVideo(f)
}

// requestKeyframe is the streams' keyframe requester: a viewer's PLI, a
// recorder starting a segment.
func (m *Mixer) requestKeyframe() {
	if e := m.encoder.Load(); e != nil {
		e.RequestKeyframe()
	}
}

// onLowVideo receives each picture of the low rendition (its encoder's
// pull goroutine). Its times are the composite picture's own, as the main
// rendition's are.
func (m *Mixer) onLowVideo(f *pipeline.Frame) {
	dur := time.Second / time.Duration(m.cfg.Output.FPS)
	f.PTS, f.DTS, _ = m.lowTimes.fix(f.PTS, f.DTS, dur)
	m.lowFrames.Add(1)
	m.out.writeLowVideo(f)
}

// requestLowKeyframe is the low rendition's keyframe requester: a viewer's
// PLI, or one moving to it.
func (m *Mixer) requestLowKeyframe() {
	if e := m.lowEncoder.Load(); e != nil {
		e.RequestKeyframe()
	}
}
