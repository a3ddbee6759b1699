package testkit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// StopWithin is how long a component may take to return from Run once its
// context ended: longer is a hang, and the test fails.
const StopWithin = 20 * time.Second

// Running is a component started by Start.
type Running struct {
	t      testing.TB
	what   string
	cancel context.CancelFunc
	done   chan error

	once    sync.Once
	stopErr error
}

// Start runs run (a component's Run) in the background until t ends; then
// it cancels run's context and waits up to StopWithin, failing t if run
// returned an error or did not return. Stop ends it earlier.
func Start(t testing.TB, what string, run func(context.Context) error) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{t: t, what: what, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx) }()
	t.Cleanup(func() {
		stopped := false
		r.once.Do(func() { r.stopErr, stopped = r.wait(), true })
		if stopped && r.stopErr != nil {
			t.Errorf("%s: %v", what, r.stopErr)
		}
	})
	return r
}

// Stop cancels Run's context now, waits for it to return (up to
// StopWithin) and returns its error; a test that stops a component itself
// checks what it returned (a run's seal, a clean shutdown).
func (r *Running) Stop() error {
	r.once.Do(func() { r.stopErr = r.wait() })
	return r.stopErr
}

func (r *Running) wait() error {
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			return fmt.Errorf("Run: %w", err)
		}
		return nil
	case <-time.After(StopWithin):
		return fmt.Errorf("Run did not return %v after its context ended", StopWithin)
	}
}

// WaitReady waits for ready to close (the component is listening, or has
// what it needs), failing t if Run returns first or d passes.
func (r *Running) WaitReady(ready <-chan struct{}, d time.Duration) {
	r.t.Helper()
	select {
	case <-ready:
	case err := <-r.done:
		r.done <- err // for Stop or the cleanup
		r.t.Fatalf("%s: Run returned before it was ready: %v", r.what, err)
	case <-time.After(d):
		r.t.Fatalf("%s: not ready after %v", r.what, d)
	}
}

// Eventually polls cond until it holds, failing t if Run returns first (a
// component that died is not one that is slow) or d passes.
func (r *Running) Eventually(d time.Duration, what string, cond func() bool) {
	r.t.Helper()
	deadline := time.After(d)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		select {
		case err := <-r.done:
			r.done <- err // for Stop or the cleanup
			r.t.Fatalf("%s: Run returned before %s: %v", r.what, what, err)
		case <-deadline:
			r.t.Fatalf("%s: timed out waiting for %s", r.what, what)
		case <-tick.C:
		}
	}
}

// Wait waits up to d for Run to return by itself (a pipeline at its end of
// stream) and returns its error as Stop does; t fails if d passes first.
func (r *Running) Wait(d time.Duration) error {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
	case <-time.After(d):
		r.t.Fatalf("%s: Run did not return within %v", r.what, d)
	}
	return r.Stop()
}
