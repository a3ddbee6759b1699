package srt

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"diemcau/ingest"
	"diemcau/pipeline"
)

// Timing of srt:// sources.
const (
	// publisherIdleTimeout: an encoder that sends nothing for this long is
	// dropped and the source shown offline (as push sources).
	publisherIdleTimeout = 2 * time.Second
	waitingForEncoder    = "waiting for encoder (SRT)"
)

// Source is a point whose encoder calls the SRT listener. Its stream lives
// as long as the source, across encoder reconnects, on one forward
// timeline.
type Source struct {
	id         string
	passphrase string // "" only with allow_anonymous
	latency    time.Duration
	log        *slog.Logger
	feed       *ingest.Feed
	tracker    *ingest.Tracker

	// slot is whether the source runs and the encoder connected now (nil
	// when none): one loop with the push and WHIP sources'.
	slot      ingest.PublisherSlot[*publisher]
	published atomic.Bool                     // an encoder has sent before: the next is a reconnect
	last      atomic.Pointer[ingest.SRTStats] // the last encoder's figures, kept after it leaves
}

// NewSource validates cfg (an srt:// source); it starts nothing. latency
// is the listener's, shown in the status.
func NewSource(cfg ingest.SourceConfig, latency time.Duration, log *slog.Logger) (*Source, error) {
	pass, err := ingest.ParseSRTURL(cfg.URL, cfg.AllowAnonymous)
	if err != nil {
		return nil, fmt.Errorf("srt source %q: url: %w", cfg.ID, err)
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Source{
		id:         cfg.ID,
		passphrase: pass,
		latency:    latency,
		log:        log.With("component", "srt", "source", cfg.ID),
		feed:       ingest.FeedFor(cfg.Feed, cfg.ID),
		tracker:    ingest.NewTracker(cfg.ID, cfg.Name, cfg.URL),
	}
	s.tracker.SetTransport("srt")
	s.tracker.SetState(ingest.StateConnecting, waitingForEncoder)
	return s, nil
}

// ID is the source id.
func (s *Source) ID() string { return s.id }

// Stream is the source's stream.
func (s *Source) Stream() *pipeline.Stream { return s.feed.Stream() }

// Anonymous reports a source that takes encoders without a passphrase.
func (s *Source) Anonymous() bool { return s.passphrase == "" }

// Rename changes the name the status shows; the source goes on.
func (s *Source) Rename(name string) { s.tracker.SetName(name) }

// Status is the source's status with SRT's own figures.
func (s *Source) Status() ingest.Status {
	st := s.tracker.Status()
	st.AllowAnonymous = s.Anonymous()
	// Held before last: an encoder leaving stores its figures first.
	pub := s.slot.Held()
	last := s.last.Load()
	if pub != nil && pub.getConn() != nil {
		last = pub.stats()
	}
	if last != nil {
		st.SRT = last
		// What a camera's packets_lost means: holes left in the stream.
		// SRT's own loss count (srt.packets_lost) is mostly repaired by
		// retransmission; the packets it gave up on are its drops.
		st.PacketsLost = last.PacketsDropped
	}
	return st
}

// Run waits for encoders until ctx ends, drops one that stops sending and
// summarises decode errors once a second.
func (s *Source) Run(ctx context.Context) error {
	return s.slot.Run(ctx, s.tracker, "srt source", s.id, "no data from encoder", waitingForEncoder)
}
