package testkit

import (
	"context"
	"testing"
	"time"
)

// StopWithin is how long a component may take to return from Run once its
// test ended: longer is a hang, and the test fails.
const StopWithin = 20 * time.Second

// Running is a component started by Start.
type Running struct {
	t    testing.TB
	what string
	done chan error
}

// Start runs run (a component's Run) in the background until t ends; then
// it cancels run's context and waits up to StopWithin, failing t if run
// returned an error or did not return.
func Start(t testing.TB, what string, run func(context.Context) error) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{t: t, what: what, done: make(chan error, 1)}
	go func() { r.done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("%s: Run: %v", what, err)
			}
		case <-time.After(StopWithin):
			t.Errorf("%s: Run did not return %v after its context ended", what, StopWithin)
		}
	})
	return r
}

// WaitReady waits for ready to close (the component is listening, or has
// what it needs), failing t if Run returns first or d passes.
func (r *Running) WaitReady(ready <-chan struct{}, d time.Duration) {
	r.t.Helper()
	select {
	case <-ready:
	case err := <-r.done:
		r.done <- err // for the cleanup's check
		r.t.Fatalf("%s: Run returned before it was ready: %v", r.what, err)
	case <-time.After(d):
		r.t.Fatalf("%s: not ready after %v", r.what, d)
	}
}
