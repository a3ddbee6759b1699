package srt

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"diemcau/ingest"
	"diemcau/pipeline"
)

// Timing of srt:// sources.
const (
	// publisherIdleTimeout: an encoder that sends nothing for this long is
	// dropped and the source shown offline (as push sources).
	publisherIdleTimeout = 2 * time.Second
	checkPeriod          = 250 * time.Millisecond
	// errorSummaryPeriod: decode errors are logged at most this often.
	errorSummaryPeriod = time.Second
	waitingForEncoder  = "waiting for encoder (SRT)"
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

	mu        sync.Mutex
	running   bool
	pub       *publisher // the encoder connected now, nil when none
	published bool       // an encoder has sent before: the next is a reconnect
	last      *ingest.SRTStats
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
	s.mu.Lock()
	pub, last := s.pub, s.last
	s.mu.Unlock()
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
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return fmt.Errorf("srt source %q: already running", s.id)
	}
	s.running = true
	if s.pub == nil {
		s.tracker.SetState(ingest.StateConnecting, waitingForEncoder)
	}
	s.mu.Unlock()

	tick := time.NewTicker(checkPeriod)
	defer tick.Stop()
	lastSummary := time.Now()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.running = false
			pub := s.pub
			s.mu.Unlock()
			if pub != nil {
				pub.close("source stopped")
				<-pub.done
			}
			s.tracker.SetState(ingest.StateOffline, "stopped")
			return nil
		case now := <-tick.C:
			s.mu.Lock()
			pub := s.pub
			s.mu.Unlock()
			if pub == nil {
				continue
			}
			if idle := now.Sub(time.Unix(0, pub.lastData.Load())); idle >= publisherIdleTimeout {
				pub.close(fmt.Sprintf("no data from encoder for %s", idle.Round(100*time.Millisecond)))
			}
			if now.Sub(lastSummary) >= errorSummaryPeriod {
				lastSummary = now
				pub.flushErrors()
			}
		}
	}
}

// setStateIfIdle shows a refusal only while no encoder publishes: someone
// guessing the passphrase must not mark a live source as failed.
func (s *Source) setStateIfIdle(st ingest.State, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pub == nil {
		s.tracker.SetState(st, msg)
	}
}

// claim makes pub the source's publisher, or says why not.
func (s *Source) claim(pub *publisher) (reason string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.running:
		return reasonNotRunning, false
	case s.pub != nil:
		return reasonBusy, false
	}
	s.pub = pub
	return "", true
}

// release ends pub's turn; stats are its last figures.
func (s *Source) release(pub *publisher, stats *ingest.SRTStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pub == pub {
		s.pub = nil
	}
	if stats != nil {
		s.last = stats
	}
}
