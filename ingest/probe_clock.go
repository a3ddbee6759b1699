package ingest

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pion/rtcp"

	"diemcau/pipeline"
)

// Clock thresholds. A camera's crystal is good to a few parts per million;
// a drift of a percent or more is a camera that stamps frames by a wrong
// rate (a "variable" or "smart" frame rate, a firmware bug), and over a
// session its feed falls out of step with the others.
const (
	warnDriftPct = 1.0
	failDriftPct = 5.0
	// warnOffset: the time a camera burns into its picture and reports is
	// off by more than a glance at a wall clock would accept.
	warnOffset = 2 * time.Second
	// Rate drift is not judged on less: arrival jitter would dominate.
	minDriftWindow = 2 * time.Second
	minDriftPoints = 5
	// driftBucket is the stretch of arrival time in which only the frame
	// that came with the least delay counts: network and encoder jitter
	// only ever delay a frame, so the least delayed frames trace the
	// sender's clock. It also makes a burst of old frames at the start
	// (a GOP cache replayed to a new reader) count as one point.
	driftBucket = 250 * time.Millisecond
)

// ProbeClock is what a probe measured of a feed's clocks: how fast its
// media clock (the RTP timestamps, hence frame times) runs against the
// server's wall clock, and how far its wall clock (RTCP sender reports) is
// from the server's.
type ProbeClock struct {
	// Video and Audio are the drift of each track's media clock; nil when
	// the window was too short to judge.
	Video *ClockDrift `json:"video,omitempty"`
	Audio *ClockDrift `json:"audio,omitempty"`
	// OffsetS is the camera's wall clock minus the server's, in seconds
	// (positive: the camera is ahead); nil when not measured.
	OffsetS *float64 `json:"offset_s,omitempty"`
	// SenderReports is how many RTCP sender reports came.
	SenderReports int `json:"sender_reports"`
}

// ClockDrift is one track's media clock against the server's.
type ClockDrift struct {
	// DriftPct is how much faster (positive) or slower the track's
	// timestamps advance than the server's clock, in percent.
	DriftPct float64 `json:"drift_pct"`
	// ErrPct is the uncertainty of DriftPct (two standard errors).
	ErrPct float64 `json:"err_pct"`
	// WindowS is the stretch of arrival time it was measured over.
	WindowS float64 `json:"window_s"`
}

// clockMeter gathers the clock evidence of one probe. Not safe for
// concurrent use: the probe collector's lock guards it.
type clockMeter struct {
	start time.Time // arrival of the first frame
	video rateFit
	audio rateFit
	wall  offsetEstimator
}

// frame adds one frame: its media time against its arrival.
func (m *clockMeter) frame(f *pipeline.Frame, arrival time.Time) {
	if m.start.IsZero() {
		m.start = arrival
	}
	at := arrival.Sub(m.start)
	switch f.Track.Kind() {
	case pipeline.Video:
		m.video.add(at, f.DTS)
	case pipeline.Audio:
		m.audio.add(at, f.DTS)
	}
}

// senderReport adds one RTCP sender report that arrived at arrival.
func (m *clockMeter) senderReport(sr *rtcp.SenderReport, arrival time.Time) {
	m.wall.add(sr.NTPTime, arrival)
}

// result is the measured figures for the report.
func (m *clockMeter) result(relayed bool) *ProbeClock {
	pc := &ProbeClock{SenderReports: int(m.wall.reports), Video: m.video.drift(), Audio: m.audio.drift()}
	if off, at, ok := m.wall.estimate(); ok && !relayed {
		if _, unset := clockUnset(off, at); !unset {
			s := roundTo(off.Seconds(), 3)
			pc.OffsetS = &s
		}
	}
	return pc
}

// checks grades the clocks. relayed: the feed was read through diemcau's
// own re-serve, whose sender reports carry the server's clock.
func (m *clockMeter) checks(pc *ProbeClock, relayed bool, add func(string, CheckResult, string, ...any)) {
	m.rateCheck(pc, add)
	switch {
	case relayed:
		add("clock-offset", CheckPass, "not measured: read through the server's re-serve, whose RTCP reports carry the server's clock, not the camera's; run `diemcau probe` on the camera's URL")
	case m.wall.reports == 0:
		add("clock-offset", CheckPass, "not measured: the camera sent no RTCP sender report while it was read (many send one every 5 to 10 s; read longer)")
	default:
		off, at, _ := m.wall.estimate()
		chk := ClockOffsetCheck(off.Seconds(), at)
		add(chk.Name, chk.Result, "%s", chk.Message)
	}
}

func (m *clockMeter) rateCheck(pc *ProbeClock, add func(string, CheckResult, string, ...any)) {
	var worst *ClockDrift
	var kind string
	var figures []string
	for _, t := range []struct {
		kind string
		d    *ClockDrift
	}{{"video", pc.Video}, {"audio", pc.Audio}} {
		if t.d == nil {
			continue
		}
		figures = append(figures, fmt.Sprintf("%s %+.2f %% ±%.2f %%", t.kind, t.d.DriftPct, t.d.ErrPct))
		if worst == nil || excess(t.d) > excess(worst) {
			worst, kind = t.d, t.kind
		}
	}
	switch {
	case worst == nil:
		add("clock-rate", CheckPass, "not measured: read longer than %.0f s to judge the camera's clock", minDriftWindow.Seconds())
	case excess(worst) > failDriftPct:
		add("clock-rate", CheckFail, "%s", driftMessage(kind, worst))
	case excess(worst) > warnDriftPct:
		add("clock-rate", CheckWarn, "%s", driftMessage(kind, worst))
	case worst.ErrPct > warnDriftPct:
		add("clock-rate", CheckPass, "not judged: the %s timing varies too much on arrival (%+.1f %% ±%.1f %%); read longer", kind, worst.DriftPct, worst.ErrPct)
	default:
		add("clock-rate", CheckPass, "the camera's clock keeps time with the server's (%s)", strings.Join(figures, ", "))
	}
}

// excess is how far the drift is sure to be from none.
func excess(d *ClockDrift) float64 { return math.Abs(d.DriftPct) - d.ErrPct }

func driftMessage(kind string, d *ClockDrift) string {
	effect := "its frames come faster than their times say: buffers fill and its delay grows through the session"
	if d.DriftPct < 0 {
		effect = "its frames come slower than their times say: playback runs dry and stutters"
	}
	return fmt.Sprintf("clock drift: the camera's %s clock runs %.1f %% %s than the server's (±%.1f %% over %.1f s); %s. "+
		"Set the camera to a fixed frame rate (not variable or \"smart\"), check its time source, or update its firmware",
		kind, math.Abs(d.DriftPct), fasterSlower(d.DriftPct), d.ErrPct, d.WindowS, effect)
}

func fasterSlower(v float64) string {
	if v < 0 {
		return "slower"
	}
	return "faster"
}

func aheadBehind(v float64) string {
	if v < 0 {
		return "behind"
	}
	return "ahead of"
}

func humanSeconds(s float64) string {
	switch {
	case s >= 3600:
		return fmt.Sprintf("%.1f h", s/3600)
	case s >= 120:
		return fmt.Sprintf("%.1f min", s/60)
	default:
		return fmt.Sprintf("%.1f s", s)
	}
}

// rateFit fits a track's media time against arrival time over the least
// delayed frame of each driftBucket.
type rateFit struct {
	points []ratePoint // every frame, in arrival order
}

type ratePoint struct {
	arrival, media time.Duration
}

func (r *rateFit) add(arrival, media time.Duration) {
	r.points = append(r.points, ratePoint{arrival, media})
}

// drift is the least-squares slope of media time on arrival time, less
// one, with its uncertainty; nil when the window is too short.
func (r *rateFit) drift() *ClockDrift {
	if len(r.points) < minDriftPoints {
		return nil
	}
	window := r.points[len(r.points)-1].arrival - r.points[0].arrival
	if window < minDriftWindow {
		return nil
	}
	// Which frame of a bucket came with the least delay depends on the
	// slope (a fast clock makes later frames look earlier): pick with the
	// slope of the last pass, starting from a true clock.
	slope, se := 1.0, 0.0
	for range 3 {
		pts := r.leastDelayed(slope)
		if len(pts) < minDriftPoints {
			return nil
		}
		var ok bool
		if slope, se, ok = fitLine(pts); !ok {
			return nil
		}
	}
	return &ClockDrift{
		DriftPct: roundTo((slope-1)*100, 2),
		ErrPct:   roundTo(2*se*100, 2),
		WindowS:  roundTo(window.Seconds(), 1),
	}
}

// leastDelayed keeps, of each driftBucket of arrival time, the frame whose
// arrival was least late for a media clock running at slope.
func (r *rateFit) leastDelayed(slope float64) []ratePoint {
	var out []ratePoint
	var best float64
	x0 := r.points[0].arrival
	for _, p := range r.points {
		lag := (p.arrival - x0).Seconds() - p.media.Seconds()/slope
		if n := len(out); n > 0 && (out[n-1].arrival-x0)/driftBucket == (p.arrival-x0)/driftBucket {
			if lag < best {
				out[n-1], best = p, lag
			}
			continue
		}
		out, best = append(out, p), lag
	}
	return out
}

// fitLine is the least-squares slope of media on arrival and its standard
// error.
func fitLine(pts []ratePoint) (slope, se float64, ok bool) {
	n := float64(len(pts))
	x0, y0 := pts[0].arrival, pts[0].media
	xy := func(p ratePoint) (float64, float64) { return (p.arrival - x0).Seconds(), (p.media - y0).Seconds() }
	var sx, sy float64
	for _, p := range pts {
		x, y := xy(p)
		sx += x
		sy += y
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for _, p := range pts {
		x, y := xy(p)
		sxx += (x - mx) * (x - mx)
		sxy += (x - mx) * (y - my)
	}
	if sxx == 0 {
		return 0, 0, false
	}
	slope = sxy / sxx
	var ssr float64
	for _, p := range pts {
		x, y := xy(p)
		res := y - my - slope*(x-mx)
		ssr += res * res
	}
	return slope, math.Sqrt(ssr / (n - 2) / sxx), true
}

// roundTo rounds v to places decimals, and never gives -0 (JSON would
// show "-0").
func roundTo(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	r := math.Round(v*p) / p
	if r == 0 {
		return 0
	}
	return r
}
