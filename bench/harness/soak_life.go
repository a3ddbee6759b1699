package harness

import (
	"context"
	"sync"
	"time"
)

// serverLife is the server's state as the soak's workers see it: up (a
// generation: one process, between its readiness and its kill) or down.
// Workers wait for up and drop what they hold when it changes.
type serverLife struct {
	mu      sync.Mutex
	gen     int
	up      bool
	upAt    time.Time
	changed chan struct{}
}

func newServerLife() *serverLife { return &serverLife{changed: make(chan struct{})} }

// setUp starts a new generation; setDown ends it (the kill is next).
func (l *serverLife) setUp()   { l.set(true) }
func (l *serverLife) setDown() { l.set(false) }

func (l *serverLife) set(up bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if up {
		l.gen++
		l.upAt = time.Now()
	}
	l.up = up
	close(l.changed)
	l.changed = make(chan struct{})
}

// waitUp blocks until the server is up and returns its generation and a
// channel closed at the next change.
func (l *serverLife) waitUp(ctx context.Context) (int, <-chan struct{}, error) {
	for {
		l.mu.Lock()
		gen, up, ch := l.gen, l.up, l.changed
		l.mu.Unlock()
		if up {
			return gen, ch, nil
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-ch:
		}
	}
}

// isGen says whether generation gen is still the one up.
func (l *serverLife) isGen(gen int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up && l.gen == gen
}

// current is the generation and whether it is up, with the time it came up.
func (l *serverLife) current() (int, bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gen, l.up, l.upAt
}
