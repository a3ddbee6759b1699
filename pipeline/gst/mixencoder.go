package gst

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"

	"diemcau/pipeline"
)

// encoderKeyGap limits forced keyframes across all the streams that share
// one encoder: each stream already allows one a second, but a composite has
// several (full mix, archive, return feeds).
const encoderKeyGap = 500 * time.Millisecond

// VideoEncoder encodes the composite once, in its own pipeline: appsrc (raw
// pictures from a Mix, by reference) → the chosen encoder fragment →
// appsink. Kept apart from the composite so that a hardware encoder that
// fails (session limit, device lost) stops only this pipeline; the mixer
// then starts the next candidate while the composite runs on.
type VideoEncoder struct {
	choice   Choice
	params   EncoderParams
	onFrame  func(*pipeline.Frame)
	rawBytes uint64
	run      *Runner

	mu   sync.Mutex
	src  *gst.Element // the appsrc while playing
	raw  *rawPump     // the composite feeding it, while this is its encoder
	rend Rendition    // which of the composite's renditions, while raw is set

	track   *pipeline.Track // touched only on the sink's pull goroutine
	lastKey atomic.Int64    // unix ns of the last forced keyframe
	frames  atomic.Uint64
	lastOut atomic.Int64 // unix ns of the last encoded frame
	errs    atomic.Uint64
}

// NewVideoEncoder prepares an encoder for choice at p's size and rate.
// onFrame receives every encoded picture (Annex-B split into NAL units,
// SPS/PPS before each IDR) on one goroutine; a new Track pointer marks new
// parameter sets.
func NewVideoEncoder(choice Choice, p EncoderParams, onFrame func(*pipeline.Frame), log *slog.Logger) (*VideoEncoder, error) {
	p = p.withDefaults()
	if p.Width <= 0 || p.Height <= 0 {
		return nil, fmt.Errorf("encoder %s: size %dx%d", choice.Element, p.Width, p.Height)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	frag := encoderFragmentFor(choice, p)
	if frag == "" {
		return nil, fmt.Errorf("encoder %q: no pipeline fragment", choice.Element)
	}
	inW, inH := p.Width, p.Height
	if p.InWidth > 0 && p.InHeight > 0 {
		inW, inH = p.InWidth, p.InHeight
	}
	rawBytes := uint64(inW * inH * 3 / 2)
	caps := fmt.Sprintf("video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1,pixel-aspect-ratio=1/1",
		inW, inH, p.FPS)
	if inW != p.Width || inH != p.Height {
		// A lower rendition scales the composite's own pictures in its
		// own pipeline (thread), so the composite pays nothing for it.
		frag = fmt.Sprintf("videoscale ! video/x-raw,width=%d,height=%d,pixel-aspect-ratio=1/1 ! %s", p.Width, p.Height, frag)
	}
	e := &VideoEncoder{choice: choice, params: p, onFrame: onFrame, rawBytes: rawBytes}
	run, err := NewRunner(RunnerConfig{
		Name: "encoder " + choice.Element,
		Launch: fmt.Sprintf("appsrc name=raw is-live=true format=time block=false max-bytes=%d caps=%s ! %s"+
			" ! appsink name=h264 sync=false async=false wait-on-eos=false", 10*rawBytes, quote(caps), frag),
		Sinks:      []SinkConfig{{Name: "h264", MaxBuffers: 32, OnSample: e.onSample}},
		EOSTimeout: DefaultEOSTimeout,
	}, log.With("component", "gst-encoder", "element", choice.Element))
	if err != nil {
		return nil, fmt.Errorf("encoder %s: %w", choice.Element, err)
	}
	// Pictures may queue in appsrc while the pipeline starts; they stop
	// before EOS, which flushes the encoder's last ones.
	run.hooks = runnerHooks{
		prepared: func(pl *gst.Pipeline) error {
			src, err := pl.GetElementByName("raw")
			if err != nil || src == nil {
				return errors.New("appsrc raw missing")
			}
			e.setSource(src)
			return nil
		},
		ending: func() { e.setSource(nil) },
	}
	e.run = run
	return e, nil
}

// encoderFragmentFor rebuilds the fragment of a known candidate for this
// session's size and bitrate (a Choice may have been tried at another);
// unknown elements (tests) keep the Choice's own fragment.
func encoderFragmentFor(c Choice, p EncoderParams) string {
	for _, cand := range Encoders() {
		if cand.Element == c.Element {
			return cand.EncoderFragment(p)
		}
	}
	return c.Fragment
}

// Choice is the encoder this VideoEncoder runs.
func (e *VideoEncoder) Choice() Choice { return e.choice }

// Run plays the encoder until ctx ends (nil, after EOS and NULL) or it
// fails (the error). The mixer replaces a failed encoder with the next
// candidate; the composite keeps running meanwhile.
func (e *VideoEncoder) Run(ctx context.Context) error {
	defer e.setSource(nil)
	err := e.run.Run(ctx)
	if err == nil && ctx.Err() == nil {
		return fmt.Errorf("encoder %s: unexpected end of stream", e.choice.Element)
	}
	return err
}

func (e *VideoEncoder) setSource(src *gst.Element) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.src = src
	if e.raw != nil {
		e.raw.set(e.rend, src, e.queueBytes())
	}
}

// queueBytes is how many raw pictures may wait for the encoder before the
// next is dropped: enough to ride out a busy machine's hiccup (a quarter
// second), few enough that a slow encoder costs frames, not latency.
func (e *VideoEncoder) queueBytes() uint64 { return 8 * e.rawBytes }

// attachRaw makes e the composite's encoder of rendition r: its appsrc,
// when playing, receives the pictures.
func (e *VideoEncoder) attachRaw(p *rawPump, r Rendition) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.raw, e.rend = p, r
	p.set(r, e.src, e.queueBytes())
}

// detachRaw stops the pictures to e (another encoder takes over).
func (e *VideoEncoder) detachRaw() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.raw != nil {
		e.raw.set(e.rend, nil, 0)
		e.raw = nil
	}
}

// Ready is closed once the encoder pipeline plays.
func (e *VideoEncoder) Ready() <-chan struct{} { return e.run.Ready() }

// Frames is the number of encoded pictures so far; LastOutput when the last
// came out (zero before one).
func (e *VideoEncoder) Frames() uint64 { return e.frames.Load() }

// LastOutput is when the last encoded picture came out; zero before one.
func (e *VideoEncoder) LastOutput() time.Time {
	ns := e.lastOut.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// RequestKeyframe asks for an IDR with SPS/PPS at the next picture; at most
// one per encoderKeyGap. Safe from any goroutine.
func (e *VideoEncoder) RequestKeyframe() bool {
	now := time.Now().UnixNano()
	last := e.lastKey.Load()
	if now-last < int64(encoderKeyGap) || !e.lastKey.CompareAndSwap(last, now) {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.src == nil {
		return false
	}
	return forceKeyUnit(e.src)
}

func (e *VideoEncoder) onSample(s Sample) {
	au, err := splitAU(s.Data)
	if err != nil {
		e.errs.Add(1)
		return
	}
	if au.sps != nil && au.pps != nil && (e.track == nil ||
		!bytes.Equal(au.sps, e.track.SPS) || !bytes.Equal(au.pps, e.track.PPS)) {
		t, err := videoTrack(au.sps, au.pps, e.params.FPS)
		if err != nil {
			e.errs.Add(1)
			return
		}
		e.track = t
	}
	if e.track == nil {
		return // nothing decodable before the first SPS/PPS
	}
	dts := s.DTS
	if dts < 0 {
		dts = s.PTS
	}
	e.frames.Add(1)
	e.lastOut.Store(time.Now().UnixNano())
	e.onFrame(&pipeline.Frame{
		Track: e.track, PTS: s.PTS, DTS: dts, Wall: time.Now(), Key: au.idr, NALUs: au.nalus,
	})
}
