package harness

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"diemcau/ingest/avsync"
)

// archiveChunk is how much of an archived composite the meter reads at a
// time. A run's segment lasts minutes (archive.segment); over a long file
// a point's few missed flashes can make the meter pair its beeps with a
// neighbour's tile, and an offset that moves during the run would hide in
// one median. Chunks give the offset over the run: the median and the
// extremes of every chunk's points.
const archiveChunk = 10 * time.Second

// measureArchivedComposite cuts file into chunks (ffmpeg, no re-encoding:
// each chunk starts at a keyframe) and measures each.
func measureArchivedComposite(ctx context.Context, dir string, tg avTarget) OutputAV {
	fail := func(err error) OutputAV {
		o := outputAV(tg.output, avsync.Report{Input: tg.target}, tg.tones, tg.tiles)
		o.Error = err.Error()
		return o
	}
	chunks := filepath.Join(dir, fmt.Sprintf("chunks-%d", time.Now().UnixNano()))
	if err := os.Mkdir(chunks, 0o755); err != nil {
		return fail(err)
	}
	defer os.RemoveAll(chunks)
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-v", "error", "-i", tg.target, "-c", "copy", "-f", "segment",
		"-segment_time", fmt.Sprint(archiveChunk.Seconds()), "-reset_timestamps", "1", filepath.Join(chunks, "%04d.mp4"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("cutting %s into chunks: %v: %s", tg.target, err, out))
	}
	files, _ := filepath.Glob(filepath.Join(chunks, "*.mp4"))
	var parts []OutputAV
	var skipped []string // why each unmeasured chunk was left out, for a run that measures none
	for i, f := range files {
		rep, err := avsync.Measure(ctx, f, avsync.Options{})
		switch {
		case err != nil:
			skipped = append(skipped, fmt.Sprintf("chunk %d: %v", i+1, err))
			continue
		case rep.Seconds < archiveChunk.Seconds()/2:
			// The run's tail, too short to pair.
			skipped = append(skipped, fmt.Sprintf("chunk %d: %.1f s", i+1, rep.Seconds))
			continue
		}
		parts = append(parts, outputAV(tg.output, rep, tg.tones, tg.tiles))
	}
	if len(parts) == 0 {
		return fail(fmt.Errorf("%s: no chunk of %v measured (%d cut: %s)", tg.target, archiveChunk, len(files), strings.Join(skipped, "; ")))
	}
	return mergeChunks(tg, parts)
}

// mergeChunks sums the chunks up: each point's offset is the median of its
// chunks' medians, with their extremes; the sound is the worst chunk's;
// the output fails if a chunk did (its reasons are named by chunk).
func mergeChunks(tg avTarget, parts []OutputAV) OutputAV {
	o := OutputAV{Output: tg.output, Input: fmt.Sprintf("%s, %d chunks of %v", tg.target, len(parts), archiveChunk),
		Points: []avsync.PointOffset{}, Pairings: []avsync.PointOffset{}, Reasons: []string{}, MeterReasons: []string{}, Verdict: avsync.Pass}
	var all []float64
	for i, p := range parts {
		o.Seconds += p.Seconds
		if p.AudioPresentPct != nil && (o.AudioPresentPct == nil || *p.AudioPresentPct < *o.AudioPresentPct) {
			o.AudioPresentPct = p.AudioPresentPct
		}
		o.AudioHoles += p.AudioHoles
		for _, r := range p.Reasons {
			o.Reasons = append(o.Reasons, fmt.Sprintf("chunk %d: %s", i+1, r))
		}
		o.Pairings = append(o.Pairings, p.Points...)
	}
	for _, hz := range tg.tones {
		var meds []float64
		pairs := 0
		for _, p := range parts {
			for _, pt := range p.Points {
				if pt.ToneHz == hz {
					meds, pairs = append(meds, pt.Median), pairs+pt.Pairs
				}
			}
		}
		if len(meds) == 0 {
			continue
		}
		all = append(all, meds...)
		s := summary(meds)
		s.Pairs = pairs
		o.Points = append(o.Points, avsync.PointOffset{ToneHz: hz, Offset: s})
		o.PointsMinMs, o.PointsMaxMs = minPtr(o.PointsMinMs, s.Median), maxPtr(o.PointsMaxMs, s.Median)
	}
	if len(all) > 0 {
		s := summary(all)
		s.Pairs = 0
		for _, p := range o.Points {
			s.Pairs += p.Pairs
		}
		o.Offset = &s
	}
	if len(o.Reasons) > 0 {
		o.Verdict = avsync.Fail
	}
	o.MeterVerdict = o.Verdict
	return o
}

// summary is the median, extremes and standard deviation of values (ms).
func summary(v []float64) avsync.Offset {
	s := slices.Clone(v)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	var mean, sq float64
	for _, x := range s {
		mean += x / float64(len(s))
	}
	for _, x := range s {
		sq += (x - mean) * (x - mean)
	}
	r := func(x float64) float64 { return math.Round(x*10) / 10 }
	return avsync.Offset{Median: r(med), Min: r(s[0]), Max: r(s[len(s)-1]), Stdev: r(math.Sqrt(sq / float64(len(s))))}
}

func minPtr(p *float64, v float64) *float64 {
	if p == nil || v < *p {
		return ptr(v)
	}
	return p
}

func maxPtr(p *float64, v float64) *float64 {
	if p == nil || v > *p {
		return ptr(v)
	}
	return p
}
