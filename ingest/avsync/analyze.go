package avsync

import (
	"fmt"
	"time"
)

// minAudioHole is the shortest audio hole reported besides 3 frame
// durations.
const minAudioHole = 30 * time.Millisecond

// Analyze measures a capture. The report's Input and Kind are the
// caller's to fill.
func Analyze(c Capture) Report {
	rep := Report{Clock: c.Clock, Points: []PointOffset{}, Reasons: []string{}}
	d := c.Declared
	runs, audioFrame := joinChunks(c.Chunks)

	// The span is the picture's: sound missing while there is picture is
	// sound missing. Without picture, the sound's own.
	frame := frameDuration(c.Pictures, d.FPS)
	var from, to time.Duration
	switch {
	case len(c.Pictures) > 0:
		from, to = c.Pictures[0].PTS, c.Pictures[len(c.Pictures)-1].PTS+frame
	case len(runs) > 0:
		from, to = runs[0].start, runs[0].end()
		for _, r := range runs {
			from, to = min(from, r.start), max(to, r.end())
		}
	}
	rep.Seconds = round3((to - from).Seconds())

	var flashes []flash
	if d.VideoCodec != "" || len(c.Pictures) > 0 {
		flashes = findFlashes(c.Pictures)
		rep.Video = videoReport(c.Pictures, d, frame, from, len(flashes))
	}
	var beeps []beep
	if d.AudioCodec != "" || len(runs) > 0 {
		beeps = findBeeps(runs)
		rep.Audio = audioReport(c.Chunks, runs, d, audioFrame, from, to, len(beeps))
	}
	var all []float64
	rep.Points, all = pairUp(groupFlashes(flashes), beeps)
	if len(all) > 0 {
		o := summarise(all)
		rep.Offset = &o
	}
	rep.Reasons = verdictReasons(rep)
	rep.Verdict = Pass
	if len(rep.Reasons) > 0 {
		rep.Verdict = Fail
	}
	return rep
}

func videoReport(pics []Picture, d Declared, frame, origin time.Duration, flashes int) *VideoReport {
	v := &VideoReport{Codec: d.VideoCodec, Width: d.Width, Height: d.Height, DeclaredFPS: round3(d.FPS),
		Frames: len(pics), Flashes: flashes, Holes: []Gap{}, Freezes: []Gap{}}
	if n := len(pics); n > 1 {
		if span := pics[n-1].PTS - pics[0].PTS; span > 0 {
			v.MeasuredFPS = round3(float64(n-1) / span.Seconds())
		}
		v.Holes = append(v.Holes, videoHoles(pics, 3*frame, origin)...)
		v.Freezes = append(v.Freezes, freezes(pics, frame, max(3*frame, freezeMin), origin)...)
	}
	return v
}

func audioReport(chunks []Chunk, runs []run, d Declared, frame, from, to time.Duration, beeps int) *AudioReport {
	a := &AudioReport{Codec: d.AudioCodec, SampleRate: d.SampleRate, Channels: d.Channels, Beeps: beeps, Holes: []Gap{}}
	a.PeakDBFS, a.RMSDBFS = levels(runs)
	span := (to - from).Seconds()
	if span <= 0 {
		return a
	}
	a.Samples = samplesWithin(runs, from, to)
	a.SamplesPerSecond = round1(float64(a.Samples) / span)
	a.Present = round1(100 * float64(a.Samples) / (span * AudioRate))
	n := 0
	for _, c := range chunks {
		if c.PTS >= from && c.PTS < to && len(c.Samples) > 0 {
			n++
		}
	}
	a.FramesPerSecond = round1(float64(n) / span)
	a.Holes = append(a.Holes, audioHoles(runs, from, to, max(3*frame, minAudioHole))...)
	return a
}

// verdictReasons are why the feed fails, none when it passes: no picture,
// no sound, too little sound, or a pattern source out of EBU R37.
func verdictReasons(rep Report) []string {
	reasons := []string{}
	if rep.Video == nil || rep.Video.Frames == 0 {
		reasons = append(reasons, "no picture")
	}
	switch a := rep.Audio; {
	case a == nil:
		reasons = append(reasons, "no audio track")
	case a.Samples == 0:
		reasons = append(reasons, "no sound decoded")
	case a.Present < MinAudioPercent:
		reasons = append(reasons, fmt.Sprintf("sound present for %.1f %% of the time, below %.0f %%", a.Present, MinAudioPercent))
	}
	for _, p := range rep.Points {
		if !InLimits(p.Median) {
			reasons = append(reasons, fmt.Sprintf("A/V offset %+.1f ms (tone %.0f Hz) outside EBU R37 (%+.0f … %+.0f ms)",
				p.Median, p.ToneHz, EarlyLimitMS, LateLimitMS))
		}
	}
	return reasons
}
