package testkit

import (
	"context"
	"testing"
	"time"
)

// pollEvery is how often a condition is checked: often enough that a test
// waits little past the moment it holds, seldom enough to cost nothing.
const pollEvery = 20 * time.Millisecond

// Eventually polls cond until it holds; t fails if d passes first.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	WaitFor(t, ctx, what, cond)
}

// WaitFor polls cond until it holds; t fails if ctx ends first (a test's
// one deadline shared by its steps).
func WaitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
