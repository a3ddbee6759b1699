package recorder

import (
	"path/filepath"
	"testing"
	"time"

	"diemcau/pipeline"
)

// A codec change mid-stream starts a new segment: a new *Track (a source
// that reconnects with another size) and, on the same *Track, a keyframe
// carrying another SPS.
func TestCodecChangeStartsSegment(t *testing.T) {
	small := makeClip(t, "320x180", 2, "")
	large := makeClip(t, "640x360", 2, "")
	root := t.TempDir()
	rec := startRecorder(t, Config{Root: root, Segment: time.Minute, GapTimeout: 10 * time.Second})
	s := pipeline.NewStream("p", small.video)
	run, err := rec.StartRun("change", map[string]*pipeline.Stream{"sources/p": s})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t, time.Minute)
	end, err := feedFrames(ctx, s, small.frames, nil, 0, 8)
	if err != nil {
		t.Fatal(err)
	}
	s.SetTracks([]*pipeline.Track{large.video}) // a new *Track
	if end, err = feedFrames(ctx, s, large.frames, nil, end, 8); err != nil {
		t.Fatal(err)
	}
	// Same *Track, but the keyframes carry the small clip's SPS.
	if _, err = feedFrames(ctx, s, small.frames, large.video, end, 8); err != nil {
		t.Fatal(err)
	}
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, run.Dir())
	runs, err := ListRuns(root, "change")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ w, h, frames int }{{320, 180, small.videoN}, {640, 360, large.videoN}, {320, 180, small.videoN}}
	segs := runs[0].Segments
	if len(segs) != len(want) {
		t.Fatalf("%d segments, want %d", len(segs), len(want))
	}
	for i, w := range want {
		pr := ffprobe(t, filepath.Join(run.Dir(), filepath.FromSlash(segs[i].File)))
		_, codec, width, height, frames := pr.stream("video")
		if codec != "h264" || width != w.w || height != w.h || frames != w.frames {
			t.Errorf("%s: %s %dx%d %d frames, want h264 %dx%d %d frames", segs[i].File, codec, width, height, frames, w.w, w.h, w.frames)
		}
	}
}

// A point that stops sending closes its segment; when it returns, a gap
// line is written and a new segment starts. The composite never stops.
func TestPointLossWritesGap(t *testing.T) {
	const gapTimeout = 400 * time.Millisecond
	comp := makeClip(t, "320x180", 4, "aac")
	point := makeClip(t, "320x180", 4, "")
	root := t.TempDir()
	rec := startRecorder(t, Config{Root: root, Segment: time.Minute, GapTimeout: gapTimeout})
	fc, fp := newFeeder(comp, "composite", 4), newFeeder(point, "p", 4)
	feeders := map[string]*feeder{"composite": fc, "sources/p": fp}
	run, err := rec.StartRun("loss", streamsOf(feeders))
	if err != nil {
		t.Fatal(err)
	}
	recordFor(t, feeders, 4*time.Second)
	ctx := testContext(t, time.Minute)
	// Only the composite goes on until the point is seen as lost.
	waitFor(t, "the point's gap", func() bool {
		for _, ss := range run.Status().Streams {
			if ss.Stream == "sources/p" {
				return ss.State == StateGap
			}
		}
		return false
	}, func() {
		if err := fc.feedUntil(ctx, fc.fed+200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	})
	fp.loop += fc.fed - fp.fed // the point comes back on the composite's time
	recordFor(t, feeders, fc.fed+4*time.Second)
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}

	rep := mustVerify(t, run.Dir())
	if len(rep.Gaps) != 1 || rep.Gaps[0].Stream != "sources/p" || rep.Gaps[0].To.Sub(rep.Gaps[0].From) < gapTimeout {
		t.Fatalf("gaps %+v, want one of sources/p lasting at least %v", rep.Gaps, gapTimeout)
	}
	runs, err := ListRuns(root, "loss")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	frames := map[string]int{}
	for _, seg := range runs[0].Segments {
		counts[seg.Stream]++
		pr := ffprobe(t, filepath.Join(run.Dir(), filepath.FromSlash(seg.File)))
		_, codec, _, _, n := pr.stream("video")
		if codec != "h264" || n == 0 {
			t.Errorf("%s: %q with %d frames", seg.File, codec, n)
		}
		frames[seg.Stream] += n
	}
	if counts["sources/p"] != 2 || counts["composite"] != 1 {
		t.Errorf("segments per stream %v, want sources/p 2 (around the gap), composite 1", counts)
	}
	if frames["composite"] != fc.videoN || frames["sources/p"] != fp.videoN {
		t.Errorf("frames recorded %v, fed composite %d, point %d", frames, fc.videoN, fp.videoN)
	}
}
