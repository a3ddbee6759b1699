package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"diemcau/ingest/avsync"
)

// realtimeWatch follows a session's mixer twice a second and notes the
// spans in which the composite was not made in real time: frames dropped,
// or fewer pictures a second than 90 % of the target. That is a machine
// too busy to schedule the server (the test machine is shared), not a
// timing of picture against sound; lip sync is judged on what was made in
// real time.
type realtimeWatch struct {
	base, token, session string
	fps                  float64

	mu    sync.Mutex
	busy  []timeSpan
	why   []string
	since time.Time // the first poll that found the composite in real time

	cancel context.CancelFunc
	done   chan struct{}
}

type timeSpan struct{ from, to time.Time }

func (s timeSpan) overlaps(from, to time.Time) bool { return s.from.Before(to) && from.Before(s.to) }

func watchRealtime(t *testing.T, a api, session string, fps float64) *realtimeWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &realtimeWatch{base: a.base, token: a.token, session: session, fps: fps, cancel: cancel, done: make(chan struct{})}
	go w.run(ctx)
	t.Cleanup(w.stop)
	return w
}

func (w *realtimeWatch) stop() {
	w.cancel()
	<-w.done
}

func (w *realtimeWatch) run(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	prev, prevDropped := time.Now(), -1.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		m, err := w.mixer(ctx)
		now := time.Now()
		switch {
		case err != nil || m == nil:
			// Not running (before the start, after the stop): nothing to judge.
		case prevDropped >= 0 && m.Dropped > prevDropped:
			w.note(prev, now, fmt.Sprintf("%.0f frames dropped", m.Dropped-prevDropped))
		case m.FPS < 0.9*w.fps:
			w.note(prev, now, fmt.Sprintf("%.1f fps", m.FPS))
		case prevDropped >= 0:
			w.inRealtime(prev)
		}
		if m != nil {
			prevDropped = m.Dropped
		}
		prev = now
	}
}

type mixerStatus struct {
	FPS     float64 `json:"fps"`
	Dropped float64 `json:"dropped"`
}

func (w *realtimeWatch) mixer(ctx context.Context) (*mixerStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.base+"/api/v1/sessions/"+w.session, nil)
	req.Header.Set("Authorization", "Bearer "+w.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var s struct {
		State string       `json:"state"`
		Mixer *mixerStatus `json:"mixer"`
	}
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return nil, err
	}
	if s.State != "live" {
		return nil, nil
	}
	return s.Mixer, nil
}

// busyAfter stretches each busy span past its end: the mixer's fps is
// measured over the last second, and the pictures an overloaded
// compositor made late come out for a while after the load has passed.
// 2 s was not enough once: a CI run dropped 19 frames and the segment
// after it, its wall-clock span placed by the late pictures' own times,
// still paired a beep with the next tile's flash (−453 … +480 ms).
const busyAfter = 4 * time.Second

func (w *realtimeWatch) note(from, to time.Time, why string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.busy = append(w.busy, timeSpan{from, to.Add(busyAfter)})
	w.why = append(w.why, fmt.Sprintf("%s at %s", why, to.Format("15:04:05.0")))
}

func (w *realtimeWatch) inRealtime(at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.since.IsZero() {
		w.since = at
	}
}

// busyIn says why the composite was not in real time between from and to,
// "" when it was.
func (w *realtimeWatch) busyIn(from, to time.Time) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.since.IsZero() || from.Before(w.since) {
		return "not yet in real time (starting)"
	}
	for i, s := range w.busy {
		if s.overlaps(from, to) {
			return w.why[i]
		}
	}
	return ""
}

// measureRealtime measures the targets at once, again when the composite
// was not made in real time meanwhile (up to three times), and skips the
// step if it never was.
func measureRealtime(t *testing.T, w *realtimeWatch, targets []avTarget) []avsync.Report {
	t.Helper()
	for attempt := 1; ; attempt++ {
		from := time.Now()
		reps := measureAll(t, targets)
		why := w.busyIn(from, time.Now())
		if why == "" {
			return reps
		}
		if attempt == 3 {
			t.Skipf("the composite was not made in real time during any of 3 reads (last: %s): the machine is too busy to judge lip sync", why)
		}
		t.Logf("read %d not judged: the composite was not made in real time (%s); reading again", attempt, why)
	}
}

// segmentSpans are when the archived segments' media was made, by file, from
// the run's manifest.
func segmentSpans(t *testing.T, runDir string) map[string]timeSpan {
	t.Helper()
	f, err := os.Open(filepath.Join(runDir, "manifest.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]timeSpan{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			File       string    `json:"file"`
			Start      time.Time `json:"start"`
			DurationMS int64     `json:"duration_ms"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.File != "" {
			out[l.File] = timeSpan{l.Start, l.Start.Add(time.Duration(l.DurationMS) * time.Millisecond)}
		}
	}
	return out
}
