package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Timing of the sources that wait for a publisher (RTSP push, WHIP, SRT).
const (
	// publisherIdleTimeout: a publisher that sends nothing for this long is
	// dropped and the source shown offline, long before TCP or ICE would
	// notice, so the point's tile shows its slate.
	publisherIdleTimeout = 2 * time.Second
	pushCheckPeriod      = 250 * time.Millisecond
)

// WatchedPublisher is what a source fed by one publisher at a time needs
// of the publisher it holds, to drop it when it goes silent and to
// summarise its errors. ingest/srt's encoders are one, hence exported.
type WatchedPublisher interface {
	// Silence is how long it has sent nothing, and how long it may.
	Silence(now time.Time) (idle, limit time.Duration)
	// Tick does its periodic work (a jitter buffer's flush).
	Tick(now time.Time)
	// FlushErrors logs its decode errors since the last call, as one line.
	FlushErrors()
	// Drop disconnects it; reason becomes the source's error. When the
	// source stops, its Run returns only after Drop has: a publisher that
	// writes to the stream after it is disconnected waits in Drop until it
	// no longer does (the registry closes the stream once Run returns).
	Drop(reason string)
}

// watchPublisher is the body of Run for a source fed by publishers: every
// pushCheckPeriod until ctx ends it drops the current publisher (current
// returns nil when none) once silent past its limit, with the reason
// silent ("no media from encoder") and for how long, and summarises its
// errors once per errorSummaryPeriod.
func watchPublisher(ctx context.Context, current func() WatchedPublisher, silent string) {
	tick := time.NewTicker(pushCheckPeriod)
	defer tick.Stop()
	lastSummary := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			pub := current()
			if pub == nil {
				continue
			}
			pub.Tick(now)
			if idle, limit := pub.Silence(now); idle >= limit {
				pub.Drop(fmt.Sprintf("%s for %s", silent, idle.Round(100*time.Millisecond)))
			}
			if now.Sub(lastSummary) >= errorSummaryPeriod {
				lastSummary = now
				pub.FlushErrors()
			}
		}
	}
}

// PublisherSlot is the state of a source fed by one publisher at a time
// (push://, whip://, srt://): whether it runs and the publisher it holds
// (the zero P when none), one owner of both for every such source. Its
// zero value is a stopped slot holding none. Sources in this package keep
// the rest of their per-publisher state under the same mu.
type PublisherSlot[P interface {
	comparable
	WatchedPublisher
}] struct {
	mu      sync.Mutex
	running bool
	pub     P
}

// start marks the source running. It reports false when it already was,
// and whether no publisher is held (the source then waits for one).
func (s *PublisherSlot[P]) start() (ok, waiting bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return false, false
	}
	s.running = true
	var none P
	return true, s.pub == none
}

// stop marks the source stopped and returns the publisher it holds, for
// the source to drop.
func (s *PublisherSlot[P]) stop() P {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = false
	return s.pub
}

// current is the publisher held, nil when none.
func (s *PublisherSlot[P]) current() WatchedPublisher {
	s.mu.Lock()
	defer s.mu.Unlock()
	var none P
	if s.pub == none {
		return nil
	}
	return s.pub
}

// Run is the body of Run for a source fed by publishers: it marks the
// source running (showing waiting while no publisher is held), watches its
// publishers until ctx ends, then drops the one held and shows the source
// offline. what and id name the source in an error ("push source"),
// silent is the reason a silent publisher is dropped for ("no media from
// encoder", followed by how long).
func (s *PublisherSlot[P]) Run(ctx context.Context, tr *Tracker, what, id, silent, waiting string) error {
	ok, idle := s.start()
	if !ok {
		return fmt.Errorf("%s %q: already running", what, id)
	}
	if idle {
		tr.SetState(StateConnecting, waiting)
	}
	watchPublisher(ctx, s.current, silent)
	var none P
	if pub := s.stop(); pub != none {
		pub.Drop("source stopped")
	}
	tr.SetState(StateOffline, "stopped")
	return nil
}

// Claim makes pub the publisher held: ErrSourceStopped while the source
// does not run, ErrPublisherBusy while it holds another.
func (s *PublisherSlot[P]) Claim(pub P) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var none P
	switch {
	case !s.running:
		return ErrSourceStopped
	case s.pub != none:
		return ErrPublisherBusy
	}
	s.pub = pub
	return nil
}

// Release ends pub's turn, if it is the publisher held, and reports
// whether the source still runs (whether pub's going shows in its state).
func (s *PublisherSlot[P]) Release(pub P) (running bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pub == pub {
		var none P
		s.pub = none
	}
	return s.running
}

// Held is the publisher held, the zero P when none.
func (s *PublisherSlot[P]) Held() P {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub
}

// SetStateIfIdle shows a refusal only while no publisher is held: someone
// guessing a secret must not mark a live source as failed.
func (s *PublisherSlot[P]) SetStateIfIdle(tr *Tracker, st State, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var none P
	if s.pub == none {
		tr.SetState(st, msg)
	}
}
