package gst

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Trial defaults: enough frames for an encoder with a little lookahead to
// emit something, small enough to take well under a second in software.
const (
	trialFrames  = 10
	trialWidth   = 320
	trialHeight  = 240
	trialTimeout = 15 * time.Second
)

// GStreamerRegistry is the Registry of the installed GStreamer: elements are
// looked up in its plugin registry and trials run real pipelines.
type GStreamerRegistry struct {
	log *slog.Logger
}

// NewRegistry returns the real Registry.
func NewRegistry(log *slog.Logger) *GStreamerRegistry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &GStreamerRegistry{log: log}
}

// HasElement reports whether the element factory is installed.
func (r *GStreamerRegistry) HasElement(name string) bool { return HasElement(name) }

// TryEncode encodes trialFrames test frames at p's size (320x240 when unset).
func (r *GStreamerRegistry) TryEncode(ctx context.Context, fragment string, p EncoderParams) error {
	p = p.withDefaults()
	w, h := p.Width, p.Height
	if w <= 0 || h <= 0 {
		w, h = trialWidth, trialHeight
	}
	launch := fmt.Sprintf("videotestsrc num-buffers=%d ! video/x-raw,width=%d,height=%d,framerate=%d/1 ! %s ! appsink name=out sync=false",
		trialFrames, w, h, p.FPS, fragment)
	return r.runTrial(ctx, "encoder-trial", launch)
}

// TryDecode decodes trialFrames frames made by a software encoder.
func (r *GStreamerRegistry) TryDecode(ctx context.Context, fragment string) error {
	var enc string
	for _, c := range Encoders() {
		if !c.Hardware && r.HasElement(c.Element) {
			enc = c.EncoderFragment(EncoderParams{FPS: 30, BitrateKbps: 500})
			break
		}
	}
	if enc == "" {
		return errors.New("no software H.264 encoder (x264enc, openh264enc) to make test frames")
	}
	launch := fmt.Sprintf("videotestsrc num-buffers=%d ! video/x-raw,width=%d,height=%d,framerate=30/1 ! %s ! h264parse ! %s ! appsink name=out sync=false",
		trialFrames, trialWidth, trialHeight, enc, fragment)
	return r.runTrial(ctx, "decoder-trial", launch)
}

func (r *GStreamerRegistry) runTrial(ctx context.Context, name, launch string) error {
	var got atomic.Int64
	run, err := NewRunner(RunnerConfig{
		Name:   name,
		Launch: launch,
		Sinks: []SinkConfig{{Name: "out", Lossless: true, OnSample: func(Sample) {
			got.Add(1)
		}}},
	}, r.log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, trialTimeout)
	defer cancel()
	if err := run.Run(ctx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("no result within %v: %w", trialTimeout, err)
	}
	if got.Load() == 0 {
		return errors.New("no frames came out")
	}
	return nil
}
