package mixer

import (
	"slices"
	"sync"
	"time"
)

// latencyRing is how many pushes per point are remembered: two seconds of
// 30 fps, more than a frame ever waits in the mix.
const latencyRing = 64

// latencySamples is how many measurements the percentiles cover.
const latencySamples = 1024

// latency measures the mix's own delay: from a point's frame entering its
// appsrc to the first composite picture that shows it leaving the encoder.
// Pushes are logged by stamp; a composite picture at pts shows, for each
// point, the newest frame stamped before the picture's end.
type latency struct {
	mu      sync.Mutex
	pushes  [][latencyRing]push
	head, n []int
	samples [latencySamples]time.Duration
	count   int // total samples taken
}

type push struct{ stamp, at time.Duration }

func newLatency(points int) *latency {
	return &latency{pushes: make([][latencyRing]push, points), head: make([]int, points), n: make([]int, points)}
}

// pushed notes that point's frame stamped stamp entered the mix at running
// time at.
func (l *latency) pushed(point int, stamp, at time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &l.pushes[point]
	if l.n[point] == latencyRing {
		l.head[point] = (l.head[point] + 1) % latencyRing
		l.n[point]--
	}
	r[(l.head[point]+l.n[point])%latencyRing] = push{stamp, at}
	l.n[point]++
}

// out notes a composite picture covering [pts, pts+dur) leaving at running
// time now, and takes one sample per point whose newest frame it shows.
func (l *latency) out(pts, dur, now time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p := range l.pushes {
		var newest *push
		for l.n[p] > 0 {
			e := &l.pushes[p][l.head[p]]
			if e.stamp >= pts+dur {
				break
			}
			newest = e
			l.head[p] = (l.head[p] + 1) % latencyRing
			l.n[p]--
		}
		if newest != nil {
			l.samples[l.count%latencySamples] = now - newest.at
			l.count++
		}
	}
}

// percentiles returns the p50, p95 and p99 of the recent samples; zero without.
func (l *latency) percentiles() (p50, p95, p99 time.Duration) {
	l.mu.Lock()
	n := min(l.count, latencySamples)
	s := slices.Clone(l.samples[:n])
	l.mu.Unlock()
	if n == 0 {
		return 0, 0, 0
	}
	slices.Sort(s)
	return s[n*50/100], s[min(n-1, n*95/100)], s[min(n-1, n*99/100)]
}
