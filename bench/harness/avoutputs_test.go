package harness

import (
	"strings"
	"testing"

	"diemcau/ingest/avsync"
)

func TestOutputAVTiles(t *testing.T) {
	tiles := gridTiles(2, 1280, 720) // side by side
	at := func(hz, median, x float64) avsync.PointOffset {
		return avsync.PointOffset{ToneHz: hz, Region: avsync.Rect{X: x, Y: 0.25, W: 0.5, H: 0.5}, Offset: avsync.Offset{Median: median, Pairs: 5}}
	}
	rep := avsync.Report{Audio: &avsync.AudioReport{Samples: 1, Present: 100}}
	rep.Points = []avsync.PointOffset{at(1000, 10, 0), at(1200, 15, 0.5)}
	if o := outputAV("rtsp_composite", rep, []float64{1000, 1200}, tiles); o.Verdict != avsync.Pass {
		t.Errorf("each tone on its own tile: %s %v", o.Verdict, o.Reasons)
	}
	// 1000 Hz seen 40 ms after the other camera's flash: its own is ~700 ms away.
	rep.Points = []avsync.PointOffset{at(1000, 40, 0.5), at(1200, 15, 0.5)}
	if o := outputAV("rtsp_composite", rep, []float64{1000, 1200}, tiles); o.Verdict != avsync.Fail ||
		!strings.Contains(strings.Join(o.Reasons, ";"), "1000 Hz paired with another point's tile") {
		t.Errorf("a tone paired on another tile: %s %v", o.Verdict, o.Reasons)
	}
}

func TestOutputAV(t *testing.T) {
	pt := func(hz, median float64, pairs int) avsync.PointOffset {
		return avsync.PointOffset{ToneHz: hz, Offset: avsync.Offset{Median: median, Pairs: pairs}}
	}
	sound := func(pct float64) *avsync.AudioReport { return &avsync.AudioReport{Samples: 1, Present: pct} }
	tests := []struct {
		name    string
		rep     avsync.Report
		tones   []float64
		verdict string
		reason  string
		points  []float64 // medians kept, in tone order
	}{
		{"in sync", avsync.Report{Audio: sound(99.8), Points: []avsync.PointOffset{pt(1000, 12, 5), pt(1200, -8, 5)}},
			[]float64{1000, 1200}, avsync.Pass, "", []float64{12, -8}},
		{"a neighbour's pairing is not the point's", avsync.Report{Audio: sound(99.8),
			Points: []avsync.PointOffset{pt(1000, 260, 2), pt(1000, 12, 5), pt(1200, -8, 5)}},
			[]float64{1000, 1200}, avsync.Pass, "", []float64{12, -8}},
		{"same pairs: the smaller offset", avsync.Report{Audio: sound(99.8), Points: []avsync.PointOffset{pt(1000, -240, 5), pt(1000, 20, 5)}},
			[]float64{1000}, avsync.Pass, "", []float64{20}},
		{"sound late", avsync.Report{Audio: sound(99.8), Points: []avsync.PointOffset{pt(1000, 75, 5)}},
			[]float64{1000}, avsync.Fail, "1000 Hz at +75.0 ms", []float64{75}},
		{"a point missing", avsync.Report{Audio: sound(99.8), Points: []avsync.PointOffset{pt(1000, 5, 5)}},
			[]float64{1000, 1200}, avsync.Fail, "1200 Hz not paired", []float64{5}},
		{"sound short", avsync.Report{Audio: sound(95), Points: []avsync.PointOffset{pt(1000, 5, 5)}},
			[]float64{1000}, avsync.Fail, "sound present 95.0 %", []float64{5}},
		{"no sound", avsync.Report{}, []float64{1000}, avsync.Fail, "no sound", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := outputAV("whep_composite", tc.rep, tc.tones, nil)
			if o.Verdict != tc.verdict || !strings.Contains(strings.Join(o.Reasons, "; "), tc.reason) {
				t.Errorf("verdict %s %v, want %s with %q", o.Verdict, o.Reasons, tc.verdict, tc.reason)
			}
			var got []float64
			for _, p := range o.Points {
				got = append(got, p.Median)
			}
			if len(got) != len(tc.points) {
				t.Fatalf("points %v, want %v", got, tc.points)
			}
			for i := range got {
				if got[i] != tc.points[i] {
					t.Errorf("points %v, want %v", got, tc.points)
				}
			}
			if len(o.Pairings) != len(tc.rep.Points) {
				t.Errorf("%d pairings kept, want all %d", len(o.Pairings), len(tc.rep.Points))
			}
		})
	}
}

func TestMergeChunks(t *testing.T) {
	pt := func(hz, median float64) avsync.PointOffset {
		return avsync.PointOffset{ToneHz: hz, Offset: avsync.Offset{Median: median, Pairs: 10}}
	}
	chunk := func(pct float64, points ...avsync.PointOffset) OutputAV {
		return outputAV("archived_composite", avsync.Report{Seconds: 10, Audio: &avsync.AudioReport{Samples: 1, Present: pct}, Points: points},
			[]float64{1000, 1200}, nil)
	}
	tg := avTarget{output: "archived_composite", target: "composite/000001.mp4", tones: []float64{1000, 1200}}
	o := mergeChunks(tg, []OutputAV{chunk(99.9, pt(1000, 10), pt(1200, -5)), chunk(99.5, pt(1000, 20), pt(1200, -15)), chunk(99.8, pt(1000, 30), pt(1200, -10))})
	if o.Verdict != avsync.Pass || o.Seconds != 30 || *o.AudioPresentPct != 99.5 {
		t.Fatalf("merged: %s %v, %.0f s, sound %v", o.Verdict, o.Reasons, o.Seconds, *o.AudioPresentPct)
	}
	if p := o.Points[0]; p.Median != 20 || p.Min != 10 || p.Max != 30 || p.Pairs != 30 {
		t.Errorf("1000 Hz over the chunks: %+v, want median 20 (10 … 30), 30 pairs", p.Offset)
	}
	if *o.PointsMinMs != -10 || *o.PointsMaxMs != 20 || o.Offset.Min != -15 || o.Offset.Max != 30 {
		t.Errorf("points %v … %v, offsets %+v", *o.PointsMinMs, *o.PointsMaxMs, *o.Offset)
	}
	// One chunk late: the run fails, naming the chunk.
	o = mergeChunks(tg, []OutputAV{chunk(99.9, pt(1000, 10), pt(1200, -5)), chunk(99.9, pt(1000, 90), pt(1200, -5))})
	if o.Verdict != avsync.Fail || !strings.Contains(strings.Join(o.Reasons, ";"), "chunk 2: 1000 Hz at +90.0 ms") {
		t.Errorf("a late chunk: %s %v", o.Verdict, o.Reasons)
	}
}
