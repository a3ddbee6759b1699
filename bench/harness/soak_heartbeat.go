package harness

import (
	"context"
	"sync"
	"time"
)

// heartbeat tells the server's stalls from the machine's. It sleeps
// 20 ms at a time in the bench process and keeps every window in which it
// woke late by more than freezeMin: the bench, which needs almost no CPU,
// was not run then, so neither, most likely, was the server. On a shared
// machine that is busy elsewhere this happens for seconds at a time; on a
// machine of its own it never does, and a composite gap is then the
// server's alone.
type heartbeat struct {
	mu      sync.Mutex
	freezes []freezeWindow
}

type freezeWindow struct{ from, to time.Time }

const (
	heartbeatTick = 20 * time.Millisecond
	freezeMin     = 50 * time.Millisecond
)

func (h *heartbeat) run(ctx context.Context) {
	prev := time.Now()
	for ctx.Err() == nil {
		time.Sleep(heartbeatTick)
		now := time.Now()
		if late := now.Sub(prev) - heartbeatTick; late > freezeMin {
			h.mu.Lock()
			h.freezes = append(h.freezes, freezeWindow{prev.Add(heartbeatTick), now})
			h.mu.Unlock()
		}
		prev = now
	}
}

// frozen is how much of [from, to] the bench was frozen.
func (h *heartbeat) frozen(from, to time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var d time.Duration
	for _, w := range h.freezes {
		a, b := maxTime(w.from, from), minTime(w.to, to)
		if b.After(a) {
			d += b.Sub(a)
		}
	}
	return d
}

// summary is the machine's freezes: how many, the longest, the total.
func (h *heartbeat) summary() (int, time.Duration, time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var longest, total time.Duration
	for _, w := range h.freezes {
		d := w.to.Sub(w.from)
		longest = max(longest, d)
		total += d
	}
	return len(h.freezes), longest, total
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
