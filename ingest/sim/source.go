// Package sim is the sim://NAME source: a synthetic camera inside the
// server, encoded once with GStreamer and replayed in real time. It sits
// apart from ingest so that ingest, and the control plane above it, build
// without cgo.
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"diemcau/ingest"
	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// Defaults of Config: a small picture, enough for the embedded demo.
const (
	DefaultWidth       = 640
	DefaultHeight      = 360
	DefaultFPS         = 25
	DefaultBitrateKbps = 800
	// maxLag is how far a sim source may fall behind the wall clock
	// (the process was descheduled) before it skips ahead rather than burst.
	maxLag = 2 * time.Second
)

// Config configures a sim://NAME source: a synthetic camera inside the
// server. Zero picture fields take the defaults above.
type Config struct {
	ID   string
	Name string // display name; burnt into the picture when set
	URL  string // sim://NAME or sim://NAME?pattern=avsync

	Width, Height, FPS, BitrateKbps int
	// Audio adds an Opus sine tone. Its pitch comes from NAME, so every
	// point sounds different (for telling points apart in a mix-minus).
	Audio bool
	// AudioFreq overrides the tone in Hz.
	AudioFreq float64
	// Feed is where the frames go (the registry's, kept across restarts);
	// nil: the source makes its own.
	Feed *ingest.Feed
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	switch {
	case c.ID == "":
		return errors.New("id: empty")
	case !strings.HasPrefix(c.URL, "sim://"):
		return fmt.Errorf("url: %q, want sim://NAME", c.URL)
	case c.Width < 0 || c.Width%2 != 0, c.Height < 0 || c.Height%2 != 0:
		return fmt.Errorf("size: %dx%d, want positive even numbers", c.Width, c.Height)
	case c.FPS < 0 || c.FPS > 60:
		return fmt.Errorf("fps: %d, want 1..60", c.FPS)
	case c.BitrateKbps < 0:
		return fmt.Errorf("bitrate: %d kbps, want > 0", c.BitrateKbps)
	case c.AudioFreq < 0 || c.AudioFreq > 20000:
		return fmt.Errorf("audio_freq: %g Hz, want 20..20000", c.AudioFreq)
	}
	if _, _, err := ingest.ParseSimURL(c.URL); err != nil {
		return fmt.Errorf("url: %w", err)
	}
	return nil
}

// simName is the NAME of sim://NAME.
func (c *Config) simName() string {
	name, _, _ := ingest.ParseSimURL(c.URL)
	return name
}

// Source is a sim:// source: it encodes a test loop once when it starts
// and then writes it into its Stream in real time, forever, with PTS that
// keep growing across loop iterations.
type Source struct {
	cfg     Config
	pattern string // "" or pipeline.PatternAVSync
	log     *slog.Logger
	stream  *pipeline.Stream
	feed    *ingest.Feed // its clock: a restarted source's loop starts at zero again
	tracker *ingest.Tracker
	keyReq  atomic.Bool
}

// New validates cfg; the loop is encoded in Run.
func New(cfg Config, log *slog.Logger) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("source %q: %w", cfg.ID, err)
	}
	if cfg.Width == 0 || cfg.Height == 0 {
		cfg.Width, cfg.Height = DefaultWidth, DefaultHeight
	}
	if cfg.FPS == 0 {
		cfg.FPS = DefaultFPS
	}
	if cfg.BitrateKbps == 0 {
		cfg.BitrateKbps = DefaultBitrateKbps
	}
	if cfg.AudioFreq == 0 {
		cfg.AudioFreq = ingest.SimToneHz(cfg.simName())
	}
	_, pattern, _ := ingest.ParseSimURL(cfg.URL)
	if pattern != "" {
		cfg.Audio = true // the pattern is picture and sound
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	feed := ingest.FeedFor(cfg.Feed, cfg.ID)
	s := &Source{
		cfg:     cfg,
		pattern: pattern,
		log:     log.With("component", "ingest", "source", cfg.ID, "kind", "sim"),
		stream:  feed.Stream(),
		feed:    feed,
		tracker: ingest.NewTracker(cfg.ID, cfg.Name, cfg.URL),
	}
	return s, nil
}

// ID is the source id.
func (s *Source) ID() string { return s.cfg.ID }

// Stream is where the frames go; it outlives Run.
func (s *Source) Stream() *pipeline.Stream { return s.stream }

// Status is the tracker's snapshot.
func (s *Source) Status() ingest.Status { return s.tracker.Status() }

// Rename changes the name the status shows; the source goes on. The name
// burnt into the picture is the one the loop was encoded with.
func (s *Source) Rename(name string) { s.tracker.SetName(name) }

// Run encodes the loop and plays it until ctx ends. A loop that cannot be
// encoded (a missing plugin) leaves the source in the error state until ctx
// ends: the server goes on without this point.
func (s *Source) Run(ctx context.Context) error {
	// A viewer's PLI restarts the picture at its GOP: the loop has an IDR
	// there, so a keyframe costs nothing. Installed here, not in New: a
	// registry's feed belongs to the source that runs on it.
	s.stream.SetKeyframeRequester(func() { s.keyReq.Store(true) })
	s.feed.Reconnect()
	s.tracker.SetState(ingest.StateConnecting, "")
	loop, err := gst.EncodeLoop(ctx, s.loopConfig(), s.log)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		s.log.Error("sim source cannot encode its loop", "error", err)
		s.tracker.SetState(ingest.StateError, err.Error())
		<-ctx.Done()
		return nil
	}
	tracks := []*pipeline.Track{loop.Video}
	if loop.Audio != nil {
		tracks = append(tracks, loop.Audio)
	}
	s.stream.SetTracks(tracks)
	s.tracker.SetTracks(tracks)
	s.tracker.SetState(ingest.StateOnline, "")
	s.log.Info("sim source online", "size", fmt.Sprintf("%dx%d", loop.Video.Width, loop.Video.Height),
		"fps", s.cfg.FPS, "audio_hz", s.cfg.AudioFreq, "pattern", s.pattern, "loop", loop.Duration())
	s.play(ctx, loop)
	s.tracker.SetState(ingest.StateOffline, "stopped")
	return nil
}

func (s *Source) loopConfig() gst.LoopConfig {
	label := s.cfg.Name
	if label == "" {
		label = s.cfg.simName()
	}
	if !gst.HasElement("textoverlay") {
		label = "" // without the pango plugin a plain picture still plays
	}
	lc := gst.LoopConfig{
		TestPicture: gst.TestPicture{Width: s.cfg.Width, Height: s.cfg.Height, FPS: s.cfg.FPS, Label: label},
		BitrateKbps: s.cfg.BitrateKbps,
	}
	if s.cfg.Audio {
		lc.Audio, lc.AudioFreq = gst.AudioOpus, s.cfg.AudioFreq
	}
	lc.Pattern = s.pattern
	return lc
}

// play writes frame nv of the endless replay when the wall clock reaches
// its PTS; audio likewise.
func (s *Source) play(ctx context.Context, loop *gst.Loop) {
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var nv, na, shift int64
	nVideo, nAudio := int64(len(loop.VideoFrames)), int64(len(loop.AudioFrames))
	for {
		next := loop.FramePTS(nv)
		if nAudio > 0 {
			next = min(next, loop.AudioPTS(na))
		}
		timer.Reset(time.Until(start.Add(next)))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Since(start)
		if now-next > maxLag {
			nv = now.Nanoseconds() * int64(s.cfg.FPS) / int64(time.Second)
			if nAudio > 0 {
				na = now.Nanoseconds() * int64(loop.Audio.SampleRate) / int64(loop.AudioFrameSamples) / int64(time.Second)
			}
			s.log.Warn("sim source fell behind; skipping ahead", "lag", now-next)
		}
		for loop.FramePTS(nv) <= now {
			idx := mod(nv+shift, nVideo)
			// A pattern's picture never shifts (its phase is the media
			// clock's); its GOP is a second, so a keyframe comes soon anyway.
			if s.keyReq.Swap(false) && s.pattern == "" && idx%int64(loop.GOP) != 0 {
				shift -= idx % int64(loop.GOP)
				idx = mod(nv+shift, nVideo)
			}
			src := loop.VideoFrames[idx]
			pts := loop.FramePTS(nv)
			s.write(&pipeline.Frame{Track: src.Track, PTS: pts, DTS: pts, Wall: time.Now(), Key: src.Key, NALUs: src.NALUs})
			nv++
		}
		for nAudio > 0 && loop.AudioPTS(na) <= now {
			src := loop.AudioFrames[na%nAudio]
			pts := loop.AudioPTS(na)
			s.write(&pipeline.Frame{Track: src.Track, PTS: pts, DTS: pts, Wall: time.Now(), Key: true, Payload: src.Payload})
			na++
		}
	}
}

func (s *Source) write(f *pipeline.Frame) {
	s.feed.Write(f)
	s.tracker.Frame(f)
}

// mod is the non-negative remainder.
func mod(a, n int64) int64 { return (a%n + n) % n }
