package harness

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"diemcau/ingest/avsync"
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
	// Offset is beep minus flash over every point's pairs (positive: the
	// sound is late); nil when no pair was found.
	Offset *avsync.Offset `json:"offset_ms"`
	// Points are the offsets per camera tone.
	Points []avsync.PointOffset `json:"points"`
	// AudioPresentPct is the sound that arrived against the expected
	// samples over the picture's span; nil without sound.
	AudioPresentPct *float64 `json:"audio_present_pct"`
	AudioHoles      int      `json:"audio_holes"`
	VideoFPS        *float64 `json:"video_fps"`
	Verdict         string   `json:"verdict"`
	Reasons         []string `json:"reasons"`
	Error           string   `json:"error,omitempty"`
}

// avTarget is one output for the meter.
type avTarget struct {
	output, target, token string
	warmup                time.Duration
}

// measureAV measures each target in turn (at once they would load the
// machine under test with decoders) and returns their figures.
func measureAV(ctx context.Context, targets []avTarget, seconds time.Duration, progress func(string, ...any)) []OutputAV {
	var out []OutputAV
	for _, tg := range targets {
		progress("A/V: measuring the %s", tg.output)
		opts := avsync.Options{Token: tg.token, Warmup: tg.warmup}
		if tg.warmup > 0 { // live; files are measured whole
			opts.Seconds = seconds.Seconds()
		}
		rep, err := avsync.Measure(ctx, tg.target, opts)
		o := outputAV(tg.output, rep)
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

func outputAV(output string, rep avsync.Report) OutputAV {
	o := OutputAV{Output: output, Input: rep.Input, Seconds: rep.Seconds, Offset: rep.Offset, Points: rep.Points,
		Verdict: rep.Verdict, Reasons: rep.Reasons}
	if o.Points == nil {
		o.Points = []avsync.PointOffset{}
	}
	if o.Reasons == nil {
		o.Reasons = []string{}
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
// composite and the return feed of point.
func (e *env) liveAVTargets(sid, point string) []avTarget {
	s := e.server
	u, err := url.Parse(s.RTSP + "/sessions/" + sid)
	var rtsp string
	if err == nil {
		u.User = url.UserPassword(s.RTSPUser, s.RTSPPass)
		rtsp = u.String()
	}
	whep := s.API.Base + "/whep/sessions/" + sid
	return []avTarget{
		{output: "rtsp_composite", target: rtsp, warmup: rtspAVWarmup},
		{output: "whep_composite", target: whep, token: s.API.Token, warmup: whepAVWarmup},
		{output: "whep_return", target: whep + "/points/" + point, token: s.API.Token, warmup: whepAVWarmup},
	}
}

// archivedAVTargets are the run's first composite segment and the first
// segment of source, once the run is sealed.
func archivedAVTargets(runDir, source string) ([]avTarget, error) {
	comp, _ := filepath.Glob(filepath.Join(runDir, "composite", "*.mp4"))
	src, _ := filepath.Glob(filepath.Join(runDir, "sources", source, "*.mp4"))
	if len(comp) == 0 || len(src) == 0 {
		return nil, fmt.Errorf("archive %s: %d composite and %d %s segments", runDir, len(comp), len(src), source)
	}
	sort.Strings(comp)
	sort.Strings(src)
	return []avTarget{{output: "archived_composite", target: comp[0]}, {output: "archived_source", target: src[0]}}, nil
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
	fmt.Fprintf(tw, "%s A/V\toffset median\tmin … max\tstdev\tpairs\tsound\tverdict\n", label)
	for _, a := range r.AV {
		off, span, sd, pairs := "n/a", "", "", ""
		if o := a.Offset; o != nil {
			off, span, sd, pairs = fmt.Sprintf("%+.1f ms", o.Median), fmt.Sprintf("%+.1f … %+.1f", o.Min, o.Max), fmt.Sprintf("%.1f", o.Stdev), fmt.Sprint(o.Pairs)
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
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Output, off, span, sd, pairs, sound, verdict)
	}
	tw.Flush()
}

func p50p95(p Percentiles) string {
	if p.P50 == nil {
		return "–"
	}
	return fmt.Sprintf("p50 %.0f / p95 %.0f", *p.P50, deref(p.P95))
}
