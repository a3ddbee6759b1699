package harness

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// sessionSampler polls a session's status each second of the window: the
// mixer's fps and latency percentiles (a rolling figure of recent
// pictures, so the window's is the median of the samples) and the bytes
// archived (whose rate is fitted over the samples: parts are flushed in
// steps, and a fit is steadier than two end points).
type sessionSampler struct {
	api *API
	id  string
	// archiveOnly: the run is judged on its archive; the composite's
	// trouble is reported, not held against it (record).
	archiveOnly bool

	first, last   SessionStatus
	fps           []float64
	p50, p95, p99 []float64
	bytesT        []float64
	bytes         []float64
	start         time.Time
	ok            bool
}

func (s *sessionSampler) begin(ctx context.Context) error {
	st, err := s.api.Session(ctx, s.id)
	if err != nil {
		return err
	}
	s.first, s.last, s.start, s.ok = st, st, time.Now(), true
	s.addBytes(st)
	return nil
}

// sample reads the session once and says what it read, for the progress
// line.
func (s *sessionSampler) sample(ctx context.Context) string {
	st, err := s.api.Session(ctx, s.id)
	if err != nil {
		return " · session: " + err.Error()
	}
	s.last = st
	if m := st.Mixer; m != nil {
		s.fps = append(s.fps, m.FPS)
		if m.LatencyP50Ms > 0 || m.LatencyP95Ms > 0 {
			s.p50 = append(s.p50, m.LatencyP50Ms)
			s.p95 = append(s.p95, m.LatencyP95Ms)
			s.p99 = append(s.p99, m.LatencyP99Ms)
		}
	}
	s.addBytes(st)
	line := ""
	if m := st.Mixer; m != nil {
		line += fmt.Sprintf(" · mixer %.1f fps", m.FPS)
	}
	if st.Recording.Active {
		line += fmt.Sprintf(" · archived %.1f MB", float64(st.Recording.Bytes)/1e6)
	}
	return line
}

func (s *sessionSampler) addBytes(st SessionStatus) {
	if st.Recording.Active {
		s.bytesT = append(s.bytesT, time.Since(s.start).Seconds())
		s.bytes = append(s.bytes, float64(st.Recording.Bytes))
	}
}

// fill files the mixer's and the archive's figures of the window.
func (s *sessionSampler) fill(r *Run, window float64) {
	if !s.ok {
		return
	}
	if m0, m1 := s.first.Mixer, s.last.Mixer; m0 != nil && m1 != nil {
		r.MixerFPS = ptr(mean(s.fps))
		r.DroppedFrames = ptr(m1.Dropped - min(m0.Dropped, m1.Dropped))
		if len(s.p50) > 0 {
			r.LatencyMs.P50, r.LatencyMs.P95, r.LatencyMs.P99 = ptr(median(s.p50)), ptr(median(s.p95)), ptr(median(s.p99))
			r.note("latency: the mixer's own (point frame in to composite out), median of %d one-second samples", len(s.p50))
		}
	}
	if msg := s.last.Error + s.first.Error; msg != "" {
		if s.archiveOnly {
			r.note("composite failed (not judged here): %s", msg)
		} else {
			r.fail("session error: %s", msg)
		}
	}
	rec := s.last.Recording
	if rec.Active || s.first.Recording.Active {
		r.BytesWritten = ptr(rec.Bytes - s.first.Recording.Bytes)
		r.BytesWrittenPerS = ptr(float64(*r.BytesWritten) / window)
		if slope, ok := fitSlope(s.bytesT, s.bytes); ok {
			r.BytesWrittenPerS = ptr(slope)
		}
		r.FsyncP99Ms = ptr(rec.FsyncP99Ms)
		if rec.DiskStopped {
			r.fail("recording stopped for lack of disk")
		}
		if rec.Error != "" {
			r.fail("recording: %s", rec.Error)
		}
		if !rec.Active {
			r.fail("recording not active at the end of the window")
		}
	}
}

// fitSlope is the least-squares slope of y over x.
func fitSlope(x, y []float64) (float64, bool) {
	n := float64(len(x))
	if len(x) < 3 {
		return 0, false
	}
	mx, my := mean(x), mean(y)
	var sxy, sxx float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	if sxx == 0 || n == 0 {
		return 0, false
	}
	return sxy / sxx, true
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// ingestFigures sums the sources' packets lost and bitrate.
type ingestFigures struct {
	lost uint64
	kbps float64
}

func (e *env) ingest(ctx context.Context, ids []string) ingestFigures {
	var f ingestFigures
	for _, id := range ids {
		if st, err := e.server.API.Source(ctx, id); err == nil {
			f.lost += st.PacketsLost
			f.kbps += st.BitrateKbps
		}
	}
	return f
}
