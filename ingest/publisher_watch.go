package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Timing of the sources that wait for a publisher (RTSP push, WHIP).
const (
	// publisherIdleTimeout: a publisher that sends nothing for this long is
	// dropped and the source shown offline, long before TCP or ICE would
	// notice, so the point's tile shows its slate.
	publisherIdleTimeout = 2 * time.Second
	pushCheckPeriod      = 250 * time.Millisecond
)

// watchedPublisher is what such a source needs of the publisher it holds
// to drop it when it goes silent and to summarise its errors.
type watchedPublisher interface {
	// silence is how long it has sent nothing, and how long it may.
	silence(now time.Time) (idle, limit time.Duration)
	// tick does its periodic work (a jitter buffer's flush).
	tick(now time.Time)
	flushErrors()
	// drop disconnects it; reason becomes the source's error.
	drop(reason string)
}

// watchPublisher is the body of Run for a source fed by publishers: every
// pushCheckPeriod until ctx ends it drops the current publisher (current
// returns nil when none) once silent past its limit, and summarises its
// packet errors once per errorSummaryPeriod. who names it in the reason
// ("encoder", "publisher").
func watchPublisher(ctx context.Context, current func() watchedPublisher, who string) {
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
			pub.tick(now)
			if idle, limit := pub.silence(now); idle >= limit {
				pub.drop(fmt.Sprintf("no media from %s for %s", who, idle.Round(100*time.Millisecond)))
			}
			if now.Sub(lastSummary) >= errorSummaryPeriod {
				lastSummary = now
				pub.flushErrors()
			}
		}
	}
}

// publisherSlot is the state of a source fed by one publisher at a time:
// whether it runs and the publisher it holds (the zero P when none). The
// source keeps the rest of its per-publisher state under the same mu.
type publisherSlot[P interface {
	comparable
	watchedPublisher
}] struct {
	mu      sync.Mutex
	running bool
	pub     P
}

// start marks the source running. It reports false when it already was,
// and whether no publisher is held (the source then waits for one).
func (s *publisherSlot[P]) start() (ok, waiting bool) {
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
func (s *publisherSlot[P]) stop() P {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = false
	return s.pub
}

// current is the publisher held, nil when none.
func (s *publisherSlot[P]) current() watchedPublisher {
	s.mu.Lock()
	defer s.mu.Unlock()
	var none P
	if s.pub == none {
		return nil
	}
	return s.pub
}

// run is the body of Run for a source fed by publishers: it marks the
// source running (showing waiting while no publisher is held), watches its
// publishers until ctx ends, then drops the one held and shows the source
// offline. what and id name the source in an error ("push source"), who
// its publisher ("encoder").
func (s *publisherSlot[P]) run(ctx context.Context, tr *Tracker, what, id, who, waiting string) error {
	ok, idle := s.start()
	if !ok {
		return fmt.Errorf("%s %q: already running", what, id)
	}
	if idle {
		tr.SetState(StateConnecting, waiting)
	}
	watchPublisher(ctx, s.current, who)
	var none P
	if pub := s.stop(); pub != none {
		pub.drop("source stopped")
	}
	tr.SetState(StateOffline, "stopped")
	return nil
}
