package avsync

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestPairUp(t *testing.T) {
	ms := time.Millisecond
	flashesAt := func(rect [4]int, first time.Duration, n int) []flash {
		var out []flash
		for i := range n {
			f := flash{at: first + time.Duration(i)*time.Second}
			for c := range GridW * GridH {
				if x, y := c%GridW, c/GridW; x >= rect[0] && x < rect[2] && y >= rect[1] && y < rect[3] {
					f.cells.set(c)
				}
			}
			out = append(out, f)
		}
		return out
	}
	beepsAt := func(hz float64, first time.Duration, n int) []beep {
		var out []beep
		for i := range n {
			out = append(out, beep{at: first + time.Duration(i)*time.Second, hz: hz})
		}
		return out
	}
	left, right := [4]int{0, 0, 16, 18}, [4]int{16, 0, 32, 18}
	type want struct {
		hz     float64
		median float64
		x      float64 // region's left edge
	}
	tests := []struct {
		name    string
		flashes []flash
		beeps   []beep
		want    []want
	}{
		{
			name:    "in sync",
			flashes: flashesAt(whole, 0, 5),
			beeps:   beepsAt(1000, 0, 5),
			want:    []want{{1000, 0, 0}},
		},
		{
			name:    "sound 100 ms late",
			flashes: flashesAt(whole, 200*ms, 5),
			beeps:   beepsAt(1000, 300*ms, 5),
			want:    []want{{1000, 100, 0}},
		},
		{
			name:    "sound 30 ms early",
			flashes: flashesAt(whole, 200*ms, 5),
			beeps:   beepsAt(1000, 170*ms, 5),
			want:    []want{{1000, -30, 0}},
		},
		{
			name:    "two points at their own phases, each in sync",
			flashes: merge(flashesAt(left, 100*ms, 5), flashesAt(right, 400*ms, 5)),
			beeps:   mergeBeeps(beepsAt(1000, 100*ms, 5), beepsAt(1100, 400*ms, 5)),
			want:    []want{{1000, 0, 0}, {1100, 0, 0.5}},
		},
		{
			name:    "two points flashing together share the flash",
			flashes: flashesAt(whole, 100*ms, 5),
			beeps:   mergeBeeps(beepsAt(1000, 100*ms, 5), beepsAt(1100, 110*ms, 5)),
			want:    []want{{1000, 0, 0}, {1100, 10, 0}},
		},
		{
			name:    "two points with one tone (close tones read as one), told apart by their phase",
			flashes: merge(flashesAt(left, 100*ms, 5), flashesAt(right, 500*ms, 5)),
			beeps:   mergeBeeps(beepsAt(1695, 120*ms, 5), beepsAt(1695, 490*ms, 5)),
			want:    []want{{1695, 20, 0}, {1695, -10, 0.5}},
		},
		{
			name:    "a point whose timing jumps stays one point",
			flashes: flashesAt(whole, 100*ms, 8),
			beeps:   mergeBeeps(beepsAt(1000, 100*ms, 4), beepsAt(1000, 4*time.Second+300*ms, 4)),
			want:    []want{{1000, 100, 0}}, // 4 pairs at 0 ms and 4 at +200 ms
		},
		{
			name:  "beeps without flashes",
			beeps: beepsAt(1000, 0, 5),
		},
		{
			name:    "a single pair is not a pattern",
			flashes: flashesAt(whole, 0, 1),
			beeps:   beepsAt(1000, 0, 1),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			points, _ := pairUp(groupFlashes(tc.flashes), tc.beeps)
			if len(points) != len(tc.want) {
				t.Fatalf("points %+v, want %d", points, len(tc.want))
			}
			for i, w := range tc.want {
				p := points[i]
				if p.ToneHz != w.hz || math.Abs(p.Median-w.median) > 0.05 || p.Region.X != w.x {
					t.Errorf("point %d: %+v, want tone %v median %v region x %v", i, p, w.hz, w.median, w.x)
				}
			}
		})
	}
}

func merge(a, b []flash) []flash {
	out := append(a, b...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].at < out[j-1].at; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func mergeBeeps(a, b []beep) []beep {
	out := append(a, b...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].at < out[j-1].at; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func TestAnalyze(t *testing.T) {
	ms := time.Millisecond
	const secs = 5
	declared := Declared{VideoCodec: "h264", Width: 320, Height: 180, FPS: 25, AudioCodec: "opus", SampleRate: 48000, Channels: 1}
	capture := func(shift time.Duration, keepAudio func(time.Duration) bool, pattern bool) Capture {
		pics := patternPictures(25, secs, 0, whole)
		tones := beepsEvery(1000, 0, shift, secs)
		if !pattern {
			for i := range pics {
				pics[i] = picture(pics[i].PTS, 0, i%GridW, 0, i%GridW+1, 1, 90)
			}
			tones = []tone{{hz: 440, amp: 0.3, cont: true}}
		}
		var chunks []Chunk
		for _, c := range chunksOf(synthPCM(secs, 0, tones...), 960, 0) {
			if keepAudio == nil || keepAudio(c.PTS) {
				chunks = append(chunks, c)
			}
		}
		return Capture{Declared: declared, Pictures: pics, Chunks: chunks}
	}
	noAudio := capture(0, nil, true)
	noAudio.Chunks, noAudio.Declared.AudioCodec = nil, ""
	tests := []struct {
		name    string
		c       Capture
		verdict string
		reason  string  // a part of a reason, when failing
		offset  float64 // NaN: no pattern
	}{
		{name: "in sync", c: capture(0, nil, true), verdict: Pass, offset: 0},
		{name: "sound 100 ms late", c: capture(100*ms, nil, true), verdict: Fail, reason: "outside EBU R37", offset: 100},
		{name: "sound 50 ms late is within R37", c: capture(50*ms, nil, true), verdict: Pass, offset: 50},
		{name: "sound 45 ms early", c: capture(-45*ms, nil, true), verdict: Fail, reason: "outside EBU R37", offset: -45},
		{name: "no audio track", c: noAudio, verdict: Fail, reason: "no audio track", offset: math.NaN()},
		{
			name: "a tenth of the sound lost", verdict: Fail, reason: "sound present for 90.0 %", offset: 0,
			c: capture(0, func(pts time.Duration) bool { return pts < 2*time.Second || pts >= 2500*ms }, true),
		},
		{name: "no pattern: offset n/a, still measured", c: capture(0, nil, false), verdict: Pass, offset: math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := Analyze(tc.c)
			if rep.Verdict != tc.verdict {
				t.Fatalf("verdict %s %v, want %s", rep.Verdict, rep.Reasons, tc.verdict)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(rep.Reasons, "; "), tc.reason) {
				t.Errorf("reasons %v, want one with %q", rep.Reasons, tc.reason)
			}
			switch {
			case math.IsNaN(tc.offset) && rep.Offset != nil:
				t.Errorf("offset %+v, want none", rep.Offset)
			case !math.IsNaN(tc.offset) && (rep.Offset == nil || math.Abs(rep.Offset.Median-tc.offset) > 0.5):
				t.Errorf("offset %+v, want %v ms", rep.Offset, tc.offset)
			}
			if rep.Video == nil || rep.Video.Frames != 25*secs || rep.Video.MeasuredFPS != 25 {
				t.Errorf("video %+v", rep.Video)
			}
			if rep.Seconds != secs {
				t.Errorf("seconds %v, want %v", rep.Seconds, secs)
			}
		})
	}
	t.Run("levels of the pattern", func(t *testing.T) {
		a := Analyze(capture(0, nil, true)).Audio
		// A 0.5 sine is −6 dBFS peak, −9 dBFS RMS while it sounds, a
		// tenth of the time: −19 dBFS RMS overall.
		if math.Abs(a.PeakDBFS+6) > 0.2 || math.Abs(a.RMSDBFS+19) > 0.3 || a.Present != 100 || a.FramesPerSecond != 50 {
			t.Errorf("audio %+v", a)
		}
	})
}

// BenchmarkAnalyze measures the analysis of 10 s of the pattern (25 fps
// pictures, 48 kHz sound): what the meter costs beyond ffmpeg's decoding.
func BenchmarkAnalyze(b *testing.B) {
	const secs = 10
	c := Capture{
		Declared: Declared{VideoCodec: "h264", FPS: 25, AudioCodec: "opus", SampleRate: 48000, Channels: 1},
		Pictures: patternPictures(25, secs, 0, whole),
		Chunks:   chunksOf(synthPCM(secs, 0.001, beepsEvery(1000, 0, 0, secs)...), 960, 0),
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if rep := Analyze(c); rep.Offset == nil {
			b.Fatal("no offset")
		}
	}
	b.ReportMetric(float64(secs)*float64(b.N)/b.Elapsed().Seconds(), "media_s/s")
}
