package harness

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// The server's own figures the soak follows, as /metrics exports them:
// the Go collector's goroutines and the process collector's resident
// memory and open files (under the diemcau_ namespace, like every metric
// of ours; the bare process_* names are read too, should that change).
var resourceMetrics = []struct {
	name  string
	names []string
}{
	{"goroutines", []string{"go_goroutines"}},
	{"rss_bytes", []string{"diemcau_process_resident_memory_bytes", "process_resident_memory_bytes"}},
	{"open_fds", []string{"diemcau_process_open_fds", "process_open_fds"}},
	// Not judged: it tells a growing RSS in Go's heap from one outside it.
	{"go_heap", []string{"go_memstats_heap_inuse_bytes"}},
}

// ResourceSample is one read of /metrics.
type ResourceSample struct {
	T          float64 `json:"t"`     // seconds into the soak
	Gen        int     `json:"gen"`   // the server process: 1 the first, 2 after the first kill …
	AgeS       float64 `json:"age_s"` // since that process was ready
	Goroutines float64 `json:"goroutines"`
	RSS        float64 `json:"rss_bytes"`
	FDs        float64 `json:"open_fds"`
	GoHeap     float64 `json:"go_heap_inuse_bytes"`
	Viewers    int64   `json:"viewers"` // the soak's viewers with media at that moment
}

// resourceSampler reads /metrics every so often while the server is up.
type resourceSampler struct {
	api     *API
	epoch   time.Time
	every   time.Duration
	viewers func() int64

	mu      sync.Mutex
	samples []ResourceSample
	missing []string // metric names /metrics did not export
	checked bool
}

func (s *resourceSampler) run(ctx context.Context, life *serverLife) {
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		gen, up, upAt := life.current()
		if !up {
			continue
		}
		m, err := s.api.Metrics(ctx)
		if err != nil || !life.isGen(gen) {
			continue
		}
		now := time.Now()
		smp := ResourceSample{T: now.Sub(s.epoch).Seconds(), Gen: gen, AgeS: now.Sub(upAt).Seconds(), Viewers: s.viewers()}
		vals := make([]float64, len(resourceMetrics))
		var missing []string
		for i, rm := range resourceMetrics {
			found := false
			for _, n := range rm.names {
				if v, ok := m[n]; ok {
					vals[i], found = v, true
					break
				}
			}
			if !found {
				missing = append(missing, rm.names[0])
			}
		}
		smp.Goroutines, smp.RSS, smp.FDs, smp.GoHeap = vals[0], vals[1], vals[2], vals[3]
		s.mu.Lock()
		if !s.checked {
			s.missing, s.checked = missing, true
		}
		if len(missing) == 0 {
			s.samples = append(s.samples, smp)
		}
		s.mu.Unlock()
	}
}

func (s *resourceSampler) result() ([]ResourceSample, []string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ResourceSample(nil), s.samples...), s.missing, s.checked
}

// GrowthFigures compare the last third of a stretch with its first third.
type GrowthFigures struct {
	First  float64 `json:"first_third_mean"`
	Last   float64 `json:"last_third_mean"`
	Growth float64 `json:"growth"` // (last − first) / first
	// PerViewer is what each viewer of the moment adds (least squares over
	// the stretch); the thirds are compared at the stretch's mean number
	// of viewers, so a third that happened to have more is not growth.
	// Goroutines and fds only: a viewer's memory is not told from noise.
	PerViewer float64 `json:"per_viewer,omitempty"`
}

// StretchFigures are one server process's resources after its warm-up.
type StretchFigures struct {
	Gen        int           `json:"gen"`
	FromS      float64       `json:"from_s"` // the judged samples' span, seconds into the soak
	ToS        float64       `json:"to_s"`
	Samples    int           `json:"samples"`
	Final      bool          `json:"final"`  // the stretch after the last kill
	Judged     bool          `json:"judged"` // long enough (the final one always is)
	Goroutines GrowthFigures `json:"goroutines"`
	RSS        GrowthFigures `json:"rss_bytes"`
	FDs        GrowthFigures `json:"open_fds"`
	GoHeap     GrowthFigures `json:"go_heap_inuse_bytes"` // not judged
}

// minThirdSamples: a third of fewer samples says nothing.
const minThirdSamples = 2

// stretches groups the samples by server process, drops each one's
// warm-up and measures growth over what is left. A stretch is judged when
// its span is at least judgeSpan; the final one always is.
func stretches(samples []ResourceSample, warmup, judgeSpan time.Duration) []StretchFigures {
	byGen := map[int][]ResourceSample{}
	var gens []int
	last := 0
	for _, s := range samples {
		if s.AgeS < warmup.Seconds() {
			continue
		}
		if _, ok := byGen[s.Gen]; !ok {
			gens = append(gens, s.Gen)
		}
		byGen[s.Gen] = append(byGen[s.Gen], s)
		last = max(last, s.Gen)
	}
	var out []StretchFigures
	for _, g := range gens {
		ss := byGen[g]
		f := StretchFigures{Gen: g, Samples: len(ss), FromS: ss[0].T, ToS: ss[len(ss)-1].T, Final: g == last}
		f.Judged = f.Final || time.Duration((f.ToS-f.FromS)*float64(time.Second)) >= judgeSpan
		third := len(ss) / 3
		if third >= minThirdSamples {
			pick := func(v func(ResourceSample) float64) GrowthFigures {
				return growth(ss[:third], ss[len(ss)-third:], v)
			}
			atViewers := func(v func(ResourceSample) float64) GrowthFigures {
				b, mv := perViewer(ss, v)
				g := pick(func(s ResourceSample) float64 { return v(s) - b*(float64(s.Viewers)-mv) })
				g.PerViewer = b
				return g
			}
			f.Goroutines = atViewers(func(s ResourceSample) float64 { return s.Goroutines })
			f.RSS = pick(func(s ResourceSample) float64 { return s.RSS })
			f.FDs = atViewers(func(s ResourceSample) float64 { return s.FDs })
			f.GoHeap = pick(func(s ResourceSample) float64 { return s.GoHeap })
		}
		out = append(out, f)
	}
	return out
}

// perViewer fits v = a + b·viewers over ss and returns b and the mean
// number of viewers; b is 0 when the viewers never changed.
func perViewer(ss []ResourceSample, v func(ResourceSample) float64) (float64, float64) {
	var mx, my float64
	for _, s := range ss {
		mx += float64(s.Viewers)
		my += v(s)
	}
	n := float64(len(ss))
	mx, my = mx/n, my/n
	var cov, vx float64
	for _, s := range ss {
		dx := float64(s.Viewers) - mx
		cov += dx * (v(s) - my)
		vx += dx * dx
	}
	if vx == 0 {
		return 0, mx
	}
	return cov / vx, mx
}

func growth(first, last []ResourceSample, v func(ResourceSample) float64) GrowthFigures {
	mean := func(ss []ResourceSample) float64 {
		sum := 0.0
		for _, s := range ss {
			sum += v(s)
		}
		return sum / float64(len(ss))
	}
	g := GrowthFigures{First: mean(first), Last: mean(last)}
	if g.First > 0 {
		g.Growth = (g.Last - g.First) / g.First
	}
	return g
}

// judgeGrowth lists the judged stretches that grew past limit, and a
// final stretch too short to say anything.
func judgeGrowth(st []StretchFigures, limits SoakLimits) []string {
	var bad []string
	if len(st) == 0 || !st[len(st)-1].Final {
		return []string{"resources: no sample after the warm-up of the last server process"}
	}
	for _, f := range st {
		if !f.Judged {
			continue
		}
		if f.Samples < 3*minThirdSamples {
			bad = append(bad, fmt.Sprintf("resources: process %d has %d samples after its warm-up, too few to judge (at least %d)", f.Gen, f.Samples, 3*minThirdSamples))
			continue
		}
		for _, m := range []struct {
			name  string
			g     GrowthFigures
			limit float64
		}{{"goroutines", f.Goroutines, limits.Growth}, {"RSS", f.RSS, limits.GrowthRSS}, {"open fds", f.FDs, limits.Growth}} {
			if m.g.Growth > m.limit {
				bad = append(bad, fmt.Sprintf("resources: process %d (%.0f–%.0f s): %s grew %.1f %% (%.0f → %.0f), over %.0f %%",
					f.Gen, f.FromS, f.ToS, m.name, 100*m.g.Growth, m.g.First, m.g.Last, 100*m.limit))
			}
		}
	}
	return bad
}
