package harness

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"diemcau/ingest/avsync"
	"diemcau/ingest/camsim"
)

// Warm-ups of the live A/V reads (avsync.Options.Warmup): an RTSP reader
// is lined up by the server's first sender report, 10 s into the read
// (until then ffmpeg trusts RTP-Info, which gortsplib derives from the
// frames' timeline as if it were the wall clock); a WHEP viewer's picture
// starts at the composite's last keyframe, two seconds back at most.
const (
	rtspAVWarmup = 11 * time.Second
	whepAVWarmup = 3 * time.Second
)

// OutputAV is the lip sync and the sound of one output, measured by the
// avsync meter (`diemcau probe --av`) on the pattern.
type OutputAV struct {
	// Output: rtsp_composite, whep_composite, whep_return (a point's
	// mix-minus), archived_composite, archived_source.
	Output string `json:"output"`
	Input  string `json:"input"` // URL without credentials, or the file in the run
	// Seconds of media measured.
	Seconds float64 `json:"seconds"`
	// Offset is beep minus flash over every pair the meter made (positive:
	// the sound is late); nil when no pair was found.
	Offset *avsync.Offset `json:"offset_ms"`
	// Points are the offsets of the cameras' tones: of the meter's
	// pairings of one tone, the one with the most pairs (then the smallest
	// offset). Pairings are all the meter made: it may also pair a point's
	// beeps with a neighbouring tile, or name a beep's echo under another
	// tone.
	Points   []avsync.PointOffset `json:"points"`
	Pairings []avsync.PointOffset `json:"pairings"`
	// PointsMinMs and PointsMaxMs are the smallest and largest of the
	// points' medians.
	PointsMinMs *float64 `json:"points_min_ms"`
	PointsMaxMs *float64 `json:"points_max_ms"`
	// AudioPresentPct is the sound that arrived against the expected
	// samples over the picture's span; nil without sound.
	AudioPresentPct *float64 `json:"audio_present_pct"`
	AudioHoles      int      `json:"audio_holes"`
	VideoFPS        *float64 `json:"video_fps"`
	// Verdict is pass when at least 98 % of the sound arrived and every
	// camera's beep is paired with its flash within EBU R37 (sound 40 ms
	// early to 60 ms late); Reasons say why not. MeterVerdict and
	// MeterReasons are the meter's own, which judge every pairing.
	Verdict      string   `json:"verdict"`
	Reasons      []string `json:"reasons"`
	MeterVerdict string   `json:"meter_verdict"`
	MeterReasons []string `json:"meter_reasons"`
	Error        string   `json:"error,omitempty"`
}

// avTarget is one output for the meter.
type avTarget struct {
	output, target, token string
	warmup                time.Duration
	tones                 []float64 // the cameras' beeps it carries
	// tiles[i] is where tones[i]'s camera is drawn (fractions of the
	// picture); nil for a single camera's picture.
	tiles []rectF
	// chunked: a long file, measured a chunk at a time.
	chunked bool
}

// measureAV measures each target in turn (at once they would load the
// machine under test with decoders) and returns their figures; dir is for
// the archived composite's chunks.
func measureAV(ctx context.Context, dir string, targets []avTarget, seconds time.Duration, progress func(string, ...any)) []OutputAV {
	var out []OutputAV
	for _, tg := range targets {
		progress("A/V: measuring the %s", tg.output)
		if tg.chunked {
			out = append(out, measureArchivedComposite(ctx, dir, tg))
			continue
		}
		opts := avsync.Options{Token: tg.token, Warmup: tg.warmup}
		if tg.warmup > 0 { // live; files are measured whole
			opts.Seconds = seconds.Seconds()
		}
		rep, err := avsync.Measure(ctx, tg.target, opts)
		o := outputAV(tg.output, rep, tg.tones, tg.tiles)
		if err != nil {
			o.Error = err.Error()
		}
		out = append(out, o)
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

func outputAV(output string, rep avsync.Report, tones []float64, tiles []rectF) OutputAV {
	o := OutputAV{Output: output, Input: rep.Input, Seconds: rep.Seconds, Offset: rep.Offset, Points: []avsync.PointOffset{},
		Pairings: rep.Points, MeterVerdict: rep.Verdict, MeterReasons: rep.Reasons, Reasons: []string{}}
	if o.Pairings == nil {
		o.Pairings = []avsync.PointOffset{}
	}
	if o.MeterReasons == nil {
		o.MeterReasons = []string{}
	}
	switch a := rep.Audio; {
	case a == nil || a.Samples == 0:
		o.Reasons = append(o.Reasons, "no sound")
	case a.Present < avsync.MinAudioPercent:
		o.Reasons = append(o.Reasons, fmt.Sprintf("sound present %.1f %%", a.Present))
	}
	for ti, hz := range tones {
		var best *avsync.PointOffset
		for i, p := range o.Pairings {
			if p.ToneHz == hz && (best == nil || p.Pairs > best.Pairs || (p.Pairs == best.Pairs && math.Abs(p.Median) < math.Abs(best.Median))) {
				best = &o.Pairings[i]
			}
		}
		switch {
		case best == nil:
			o.Reasons = append(o.Reasons, fmt.Sprintf("%.0f Hz not paired", hz))
			continue
		case !avsync.InLimits(best.Median):
			o.Reasons = append(o.Reasons, fmt.Sprintf("%.0f Hz at %+.1f ms", hz, best.Median))
		}
		if tiles != nil && !tiles[ti].contains(best.Region.X+best.Region.W/2, best.Region.Y+best.Region.H/2) {
			// Its beeps sit nearer another point's flashes than its own:
			// the offset is beyond the points' spacing in the second.
			o.Reasons = append(o.Reasons, fmt.Sprintf("%.0f Hz paired with another point's tile", hz))
		}
		o.Points = append(o.Points, *best)
		if o.PointsMinMs == nil || best.Median < *o.PointsMinMs {
			o.PointsMinMs = ptr(best.Median)
		}
		if o.PointsMaxMs == nil || best.Median > *o.PointsMaxMs {
			o.PointsMaxMs = ptr(best.Median)
		}
	}
	if o.Reasons == nil {
		o.Reasons = []string{}
	}
	o.Verdict = avsync.Pass
	if len(o.Reasons) > 0 {
		o.Verdict = avsync.Fail
	}
	if a := rep.Audio; a != nil {
		o.AudioPresentPct, o.AudioHoles = ptr(a.Present), len(a.Holes)
	}
	if v := rep.Video; v != nil {
		o.VideoFPS = ptr(v.MeasuredFPS)
	}
	return o
}

// liveAVTargets are the session's live outputs: the RTSP and WHEP
// composite and the return feed of point, the first of points.
func (e *env) liveAVTargets(sid string, points []string) []avTarget {
	tones := e.pointTones(len(points))
	s := e.server
	u, err := url.Parse(s.RTSP + "/sessions/" + sid)
	var rtsp string
	if err == nil {
		u.User = url.UserPassword(s.RTSPUser, s.RTSPPass)
		rtsp = u.String()
	}
	whep := s.API.Base + "/whep/sessions/" + sid
	tiles := gridTiles(len(points), e.opts.OutWidth, e.opts.OutHeight)
	return []avTarget{
		{output: "rtsp_composite", target: rtsp, warmup: rtspAVWarmup, tones: tones, tiles: tiles},
		{output: "whep_composite", target: whep, token: s.API.Token, warmup: whepAVWarmup, tones: tones, tiles: tiles},
		// The first point's studio hears the others, not itself.
		{output: "whep_return", target: whep + "/points/" + points[0], token: s.API.Token, warmup: whepAVWarmup,
			tones: tones[1:], tiles: tiles[1:]},
	}
}

// pointTones are the beeps of the session's n points' cameras.
func (e *env) pointTones(n int) []float64 {
	var tones []float64
	for i := range n {
		tones = append(tones, camsim.PatternToneHz(e.cameraOf(i+1)))
	}
	return tones
}

// archivedAVTargets are the run's first composite segment and the first
// segment of source (the first point's), once the run is sealed.
func (e *env) archivedAVTargets(runDir, source string, points int) ([]avTarget, error) {
	tones := e.pointTones(points)
	comp, _ := filepath.Glob(filepath.Join(runDir, "composite", "*.mp4"))
	src, _ := filepath.Glob(filepath.Join(runDir, "sources", source, "*.mp4"))
	if len(comp) == 0 || len(src) == 0 {
		return nil, fmt.Errorf("archive %s: %d composite and %d %s segments", runDir, len(comp), len(src), source)
	}
	sort.Strings(comp)
	sort.Strings(src)
	return []avTarget{{output: "archived_composite", target: comp[0], tones: tones, tiles: gridTiles(points, e.opts.OutWidth, e.opts.OutHeight), chunked: true},
		{output: "archived_source", target: src[0], tones: tones[:1]}}, nil
}

// writeSessionAV prints a run's end-to-end latency and each output's lip
// sync and sound, when the run measured them.
func writeSessionAV(w io.Writer, r *Run) {
	label := fmt.Sprintf("%s=%d", r.LoadName, r.Load)
	if e := r.EndToEnd; e != nil {
		fmt.Fprintf(w, "%s camera → WHEP viewer: composite %s ms (%d of %d flashes), one camera passed through %s ms (%d flashes), mixer %s ms\n",
			label, p50p95(e.Composite), e.CompositeFlashes, e.ExpectedFlashes, p50p95(e.Passthrough), e.PassthroughFlashes, p50p95(r.LatencyMs))
	}
	if len(r.AV) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s A/V\toffset median\tstdev\tpairs\tpoints' medians\tsound\tverdict\n", label)
	for _, a := range r.AV {
		off, sd, pairs, span := "n/a", "", "", ""
		if o := a.Offset; o != nil {
			off, sd, pairs = fmt.Sprintf("%+.1f ms", o.Median), fmt.Sprintf("%.1f", o.Stdev), fmt.Sprint(o.Pairs)
		}
		if a.PointsMinMs != nil {
			span = fmt.Sprintf("%+.1f … %+.1f (%d)", *a.PointsMinMs, *a.PointsMaxMs, len(a.Points))
		}
		sound := "–"
		if a.AudioPresentPct != nil {
			sound = fmt.Sprintf("%.1f %%", *a.AudioPresentPct)
		}
		verdict := a.Verdict
		if a.Error != "" {
			verdict = "error: " + a.Error
		} else if len(a.Reasons) > 0 {
			verdict += ": " + strings.Join(a.Reasons, "; ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Output, off, sd, pairs, span, sound, verdict)
	}
	tw.Flush()
}

func p50p95(p Percentiles) string {
	if p.P50 == nil {
		return "–"
	}
	return fmt.Sprintf("p50 %.0f / p95 %.0f", *p.P50, deref(p.P95))
}
