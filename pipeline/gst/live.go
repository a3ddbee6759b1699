package gst

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"diemcau/pipeline"
)

// LiveConfig describes a real-time test encoder.
type LiveConfig struct {
	TestPicture
	BitrateKbps int
	Audio       AudioCodec
	AudioFreq   float64
}

// Validate names the first bad field.
func (c *LiveConfig) Validate() error {
	l := LoopConfig{TestPicture: c.TestPicture, BitrateKbps: c.BitrateKbps, Audio: c.Audio}
	return l.Validate()
}

// LiveEncoder encodes the test picture in real time (camera label and wall
// clock burnt in) and hands each access unit to a callback.
type LiveEncoder struct {
	cfg     LiveConfig
	log     *slog.Logger
	onFrame func(*pipeline.Frame)

	mu    sync.Mutex // serialises onFrame between the video and audio pulls
	video *pipeline.Track
	audio *pipeline.Track
	bad   int
}

// NewLiveEncoder validates cfg. onFrame receives every frame, one call at a
// time, on a pull goroutine; it must return quickly. Video starts at the
// first IDR, whose Frame.Track carries SPS and PPS.
func NewLiveEncoder(cfg LiveConfig, log *slog.Logger, onFrame func(*pipeline.Frame)) (*LiveEncoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("live encoder %q: %w", cfg.Label, err)
	}
	if onFrame == nil {
		return nil, fmt.Errorf("live encoder %q: on_frame: nil", cfg.Label)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LiveEncoder{cfg: cfg, log: log.With("live_encoder", cfg.Label), onFrame: onFrame}, nil
}

// Run encodes until ctx ends.
func (e *LiveEncoder) Run(ctx context.Context) error {
	keyInt := 2 * e.cfg.FPS
	launch := videoSource(e.cfg.TestPicture, 0) + " ! " + x264Fragment(keyInt, e.cfg.BitrateKbps) +
		" ! appsink name=video sync=false"
	sinks := []SinkConfig{{Name: "video", MaxBuffers: uint(e.cfg.FPS), OnSample: e.onVideo}}
	if e.cfg.Audio != AudioNone {
		a, err := audioSource(e.cfg.Audio, e.cfg.AudioFreq, 0, aacEncoder(HasElement))
		if err != nil {
			return fmt.Errorf("live encoder %q: %w", e.cfg.Label, err)
		}
		launch += " " + a + " ! appsink name=audio sync=false"
		sinks = append(sinks, SinkConfig{Name: "audio", MaxBuffers: 50, OnSample: e.onAudio})
	}
	run, err := NewRunner(RunnerConfig{Name: "live-" + e.cfg.Label, Launch: launch, Sinks: sinks}, e.log)
	if err != nil {
		return err
	}
	err = run.Run(ctx)
	e.mu.Lock()
	bad := e.bad
	e.mu.Unlock()
	if bad > 0 {
		e.log.Warn("encoded frames could not be parsed", "count", bad)
	}
	if err != nil {
		return fmt.Errorf("live encoder %q: %w", e.cfg.Label, err)
	}
	return nil
}

func (e *LiveEncoder) onVideo(s Sample) {
	au, err := splitAU(s.Data)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.bad++
		return
	}
	if au.idr && au.sps != nil && au.pps != nil {
		if e.video == nil || string(e.video.SPS) != string(au.sps) || string(e.video.PPS) != string(au.pps) {
			tr, err := videoTrack(au.sps, au.pps, e.cfg.FPS)
			if err != nil {
				e.bad++
				return
			}
			e.video = tr
		}
	}
	if e.video == nil {
		return // nothing decodable before the first IDR
	}
	pts := s.PTS
	if pts < 0 {
		pts = 0
	}
	e.onFrame(&pipeline.Frame{Track: e.video, PTS: pts, DTS: pts, Wall: time.Now(), Key: au.idr, NALUs: au.nalus})
}

func (e *LiveEncoder) onAudio(s Sample) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.audio == nil {
		tr, err := audioTrack(e.cfg.Audio, s.Caps)
		if err != nil {
			e.bad++
			return
		}
		e.audio = tr
	}
	pts := s.PTS
	if pts < 0 {
		pts = 0
	}
	e.onFrame(&pipeline.Frame{Track: e.audio, PTS: pts, DTS: pts, Wall: time.Now(), Key: true, Payload: s.Data})
}

// audioTrack describes the test tone's coded audio; AAC needs its caps.
func audioTrack(codec AudioCodec, caps string) (*pipeline.Track, error) {
	switch codec {
	case AudioOpus:
		return &pipeline.Track{Codec: pipeline.Opus, SampleRate: audioRate, Channels: 1}, nil
	case AudioAAC:
		asc, rate, ch, err := aacCaps(caps)
		if err != nil {
			return nil, err
		}
		return &pipeline.Track{Codec: pipeline.AAC, SampleRate: rate, Channels: ch, Config: asc}, nil
	}
	return nil, errors.New("no audio codec")
}
