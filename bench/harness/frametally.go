package harness

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// frameTally counts the whole frames a reader of the server's output sees:
// the time to the first, the frames missing by RTP timestamp gaps, and the
// spacing of frames while a window is open. The reader that embeds it
// keeps its own counters under the same mu.
type frameTally struct {
	name       string // "whep /whep/sessions/x", in errors
	frameTicks uint32 // 90 kHz ticks per frame at the expected rate

	mu         sync.Mutex
	started    time.Time // the first-frame time runs from here
	firstFrame time.Duration
	frames     uint64
	missing    uint64 // frames skipped, by RTP timestamp gaps
	lastTS     uint32
	recording  bool
	lastAt     time.Time
	intervals  []float64 // ms between whole frames, while recording
}

// wholeFrame counts a frame of RTP timestamp ts, complete at now. The
// caller holds mu.
func (t *frameTally) wholeFrame(ts uint32, now time.Time) {
	if t.frames == 0 {
		t.firstFrame = now.Sub(t.started)
	} else {
		t.missing += missingFrames(t.lastTS, ts, t.frameTicks)
	}
	if t.recording && !t.lastAt.IsZero() {
		t.intervals = append(t.intervals, float64(now.Sub(t.lastAt).Microseconds())/1000)
	}
	t.lastTS, t.lastAt = ts, now
	t.frames++
}

// record starts or stops keeping frame intervals.
func (t *frameTally) record(on bool) {
	t.mu.Lock()
	t.recording = on
	t.mu.Unlock()
}

func (t *frameTally) intervalPercentiles() Percentiles {
	t.mu.Lock()
	defer t.mu.Unlock()
	return percentiles(t.intervals)
}

// waitFirstFrame waits for the first whole frame and returns the time from
// the start to it.
func (t *frameTally) waitFirstFrame(ctx context.Context, d time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(d)
	for {
		t.mu.Lock()
		n, ff := t.frames, t.firstFrame
		t.mu.Unlock()
		if n > 0 {
			return ff, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: no whole frame within %s", t.name, d)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// missingFrames is how many frames fit in the timestamp gap between two
// consecutive frames beyond the one expected (0 for a step backwards).
func missingFrames(prev, ts, ticks uint32) uint64 {
	d := ts - prev
	if ticks == 0 || d >= 1<<31 {
		return 0
	}
	if n := (uint64(d) + uint64(ticks)/2) / uint64(ticks); n > 1 {
		return n - 1
	}
	return 0
}
