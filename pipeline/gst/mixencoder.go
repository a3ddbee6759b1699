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
	"github.com/go-gst/go-gst/gst/app"

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
	launch   string
	onFrame  func(*pipeline.Frame)
	log      *slog.Logger
	rawBytes uint64
	ready    chan struct{}

	mu  sync.Mutex
	src *gst.Element // the appsrc while playing
	raw *rawPump     // the composite feeding it, while this is its encoder

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
	rawBytes := uint64(p.Width * p.Height * 3 / 2)
	caps := fmt.Sprintf("video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1,pixel-aspect-ratio=1/1",
		p.Width, p.Height, p.FPS)
	return &VideoEncoder{
		choice: choice, params: p, onFrame: onFrame, rawBytes: rawBytes, ready: make(chan struct{}),
		log: log.With("component", "gst-encoder", "element", choice.Element),
		launch: fmt.Sprintf("appsrc name=raw is-live=true format=time block=false max-bytes=%d caps=%s ! %s"+
			" ! appsink name=h264 sync=false async=false wait-on-eos=false", 10*rawBytes, quote(caps), frag),
	}, nil
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
	Init()
	p, err := gst.NewPipelineFromString(e.launch)
	if err != nil {
		return fmt.Errorf("encoder %s: parse: %w", e.choice.Element, err)
	}
	bus := p.GetPipelineBus()
	src, err1 := p.GetElementByName("raw")
	sinkEl, err2 := p.GetElementByName("h264")
	if err1 != nil || err2 != nil {
		return fmt.Errorf("encoder %s: appsrc or appsink missing", e.choice.Element)
	}
	sc := SinkConfig{Name: "h264", MaxBuffers: 32, OnSample: e.onSample}
	sink := app.SinkFromElement(sinkEl)
	configureSink(sink, sc)

	// Pictures may queue in appsrc while the pipeline starts.
	e.setSource(src)
	defer e.setSource(nil)
	if err := changeState(p.Element, gst.StatePlaying, DefaultStateTimeout); err != nil {
		e.setSource(nil)
		err = busError(bus, err)
		_ = changeState(p.Element, gst.StateNull, DefaultStateTimeout)
		return fmt.Errorf("encoder %s: start: %w", e.choice.Element, err)
	}
	var stopping atomic.Bool
	var pull sync.WaitGroup
	pull.Add(1)
	go func() {
		defer pull.Done()
		pullSamples(sink, sc, &stopping)
	}()
	close(e.ready)

	runErr := e.watch(ctx, bus)
	e.setSource(nil)
	if runErr == nil {
		// EOS flushes the encoder's last pictures; bounded, as a broken
		// hardware encoder may never answer.
		p.SendEvent(gst.NewEOSEvent())
		waitEOS(bus, DefaultEOSTimeout)
	}
	stopping.Store(true)
	stopErr := changeState(p.Element, gst.StateNull, DefaultStateTimeout)
	pull.Wait()
	if stopErr != nil {
		return errors.Join(runErr, fmt.Errorf("encoder %s: stop: %w", e.choice.Element, stopErr))
	}
	return runErr
}

func (e *VideoEncoder) setSource(src *gst.Element) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.src = src
	if e.raw != nil {
		e.raw.set(src, e.queueBytes())
	}
}

// queueBytes is how many raw pictures may wait for the encoder before the
// next is dropped: enough to ride out a busy machine's hiccup (a quarter
// second), few enough that a slow encoder costs frames, not latency.
func (e *VideoEncoder) queueBytes() uint64 { return 8 * e.rawBytes }

// attachRaw makes e the composite's encoder: its appsrc, when playing,
// receives the pictures.
func (e *VideoEncoder) attachRaw(p *rawPump) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.raw = p
	p.set(e.src, e.queueBytes())
}

// detachRaw stops the pictures to e (another encoder takes over).
func (e *VideoEncoder) detachRaw() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.raw != nil {
		e.raw.set(nil, 0)
		e.raw = nil
	}
}

// watch reads the bus until ctx ends (nil) or the encoder fails.
func (e *VideoEncoder) watch(ctx context.Context, bus *gst.Bus) error {
	for ctx.Err() == nil {
		msg := bus.TimedPopFiltered(gst.ClockTime(busPollInterval), gst.MessageError|gst.MessageEOS|gst.MessageWarning)
		if msg == nil {
			continue
		}
		switch msg.Type() {
		case gst.MessageEOS:
			return fmt.Errorf("encoder %s: unexpected end of stream", e.choice.Element)
		case gst.MessageError:
			return fmt.Errorf("encoder %s: %s: %w", e.choice.Element, msg.Source(), gerror(msg.ParseError()))
		case gst.MessageWarning:
			e.log.Warn("encoder warning", "from", msg.Source(), "warning", gerror(msg.ParseWarning()))
		}
	}
	return nil
}

// Ready is closed once the encoder pipeline plays.
func (e *VideoEncoder) Ready() <-chan struct{} { return e.ready }

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
