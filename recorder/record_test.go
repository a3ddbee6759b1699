package recorder

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"diemcau/pipeline"
)

// recordFor feeds every feeder up to media time until, in parallel.
func recordFor(t *testing.T, feeders map[string]*feeder, until time.Duration) {
	t.Helper()
	ctx := testContext(t, 2*time.Minute)
	var g errgroup.Group
	for _, fd := range feeders {
		g.Go(func() error { return fd.feedUntil(ctx, until) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

func streamsOf(feeders map[string]*feeder) map[string]*pipeline.Stream {
	out := map[string]*pipeline.Stream{}
	for name, fd := range feeders {
		out[name] = fd.stream
	}
	return out
}

// A 20 s live run with 5 s segments and 1 s parts: every segment of the
// composite and of each point opens in ffprobe with the right codec, size,
// frame count and timing, and the run verifies.
func TestRecordRun(t *testing.T) {
	const runLength = 20 * time.Second
	clips := map[string]*clip{
		"composite":  makeClip(t, "320x180", 4, "aac"),
		"sources/a":  makeClip(t, "320x180", 4, ""),
		"sources/gw": makeClip(t, "320x180", 4, "pcmu"),
	}
	wantAudio := map[string]string{"composite": "aac", "sources/gw": "pcm_s16be"}
	root := t.TempDir()
	rec := startRecorder(t, Config{Root: root, Segment: 5 * time.Second, Part: time.Second, GapTimeout: 10 * time.Second})
	feeders := map[string]*feeder{}
	for name, c := range clips {
		feeders[name] = newFeeder(c, name, 8)
	}
	run, err := rec.StartRun("demo", streamsOf(feeders))
	if err != nil {
		t.Fatal(err)
	}
	recordFor(t, feeders, runLength)
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	st := run.Status()
	if st.Active || st.Segments != 12 || st.Run != run.ID() {
		t.Errorf("status after stop: active %v, %d segments, run %q; want inactive, 12, %q", st.Active, st.Segments, st.Run, run.ID())
	}
	for _, ss := range st.Streams {
		if ss.Dropped != 0 || ss.State != StateEnded {
			t.Errorf("%s: %d frames dropped, state %s", ss.Stream, ss.Dropped, ss.State)
		}
	}

	rep := mustVerify(t, run.Dir())
	if !rep.Sealed || rep.SealReason != SealStopped || rep.Segments != 12 || len(rep.Gaps) != 0 {
		t.Errorf("verify: sealed %v (%s), %d segments, %d gaps; want sealed (stopped), 12, 0", rep.Sealed, rep.SealReason, rep.Segments, len(rep.Gaps))
	}
	runs, err := ListRuns(root, "demo")
	if err != nil || len(runs) != 1 {
		t.Fatalf("ListRuns: %v, %d runs", err, len(runs))
	}

	for name, fd := range feeders {
		t.Run(filepath.Base(name), func(t *testing.T) {
			var total time.Duration
			video, audio := 0, 0
			var prevEnd time.Time
			n := 0
			for _, seg := range runs[0].Segments {
				if seg.Stream != name {
					continue
				}
				n++
				p := filepath.Join(run.Dir(), filepath.FromSlash(seg.File))
				pr := ffprobe(t, p)
				vi, codec, w, h, frames := pr.stream("video")
				if vi < 0 || codec != "h264" || w != 320 || h != 180 {
					t.Errorf("%s: video %q %dx%d, want h264 320x180", seg.File, codec, w, h)
				}
				video += frames
				if want := wantAudio[name]; want != "" {
					_, acodec, _, _, aframes := pr.stream("audio")
					if acodec != want {
						t.Errorf("%s: audio %q, want %q", seg.File, acodec, want)
					}
					audio += aframes
				}
				pr.checkMonotonic(t, seg.File)
				dur := time.Duration(seg.DurationMS) * time.Millisecond
				if d := pr.videoDuration() - dur; d < -time.Millisecond || d > time.Millisecond {
					t.Errorf("%s: ffprobe video duration %v, manifest %v", seg.File, pr.videoDuration(), dur)
				}
				if !prevEnd.IsZero() {
					if d := seg.Start.Sub(prevEnd); d < -time.Millisecond || d > time.Millisecond {
						t.Errorf("%s starts %v after the previous segment ends", seg.File, d)
					}
				}
				prevEnd = seg.Start.Add(dur)
				total += dur
			}
			if n != 4 {
				t.Errorf("%d segments, want 4", n)
			}
			if d := total - runLength; d < -time.Second || d > time.Second {
				t.Errorf("segments add up to %v, the run fed %v", total, runLength)
			}
			if video != fd.videoN {
				t.Errorf("%d video frames in the files, %d fed", video, fd.videoN)
			}
			if wantAudio[name] == "aac" && audio != fd.audioN {
				t.Errorf("%d audio frames in the files, %d fed", audio, fd.audioN)
			}
		})
	}
}

// H.265 with Opus, and H.264 with Opus: each segment opens in ffprobe with
// the right codecs and every frame fed.
func TestRecordCodecs(t *testing.T) {
	cases := []struct {
		name         string
		video        pipeline.Codec
		audio        string
		vcodec, acod string
	}{
		{"h265 opus", pipeline.H265, "opus", "hevc", "opus"},
		{"h264 opus", pipeline.H264, "opus", "h264", "opus"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := makeClipCodec(t, tc.video, "320x180", 2, tc.audio)
			rec := startRecorder(t, Config{Root: t.TempDir(), Segment: 2 * time.Second, GapTimeout: 10 * time.Second})
			fd := newFeeder(c, "p", 8)
			run, err := rec.StartRun("codecs", streamsOf(map[string]*feeder{"sources/p": fd}))
			if err != nil {
				t.Fatal(err)
			}
			recordFor(t, map[string]*feeder{"p": fd}, 4*time.Second)
			if err := run.Stop(); err != nil {
				t.Fatal(err)
			}
			rep := mustVerify(t, run.Dir())
			video, audio := 0, 0
			for i := 1; i <= rep.Segments; i++ {
				p := filepath.Join(run.Dir(), "sources", "p", fmt.Sprintf("%06d.mp4", i))
				pr := ffprobe(t, p)
				_, vc, w, h, vn := pr.stream("video")
				_, ac, _, _, an := pr.stream("audio")
				if vc != tc.vcodec || ac != tc.acod || w != 320 || h != 180 {
					t.Errorf("%s: %s %dx%d + %s, want %s 320x180 + %s", p, vc, w, h, ac, tc.vcodec, tc.acod)
				}
				pr.checkMonotonic(t, p)
				video, audio = video+vn, audio+an
			}
			if rep.Segments != 2 || video != fd.videoN || audio != fd.audioN {
				t.Errorf("%d segments with %d video and %d audio frames; want 2, %d, %d", rep.Segments, video, audio, fd.videoN, fd.audioN)
			}
		})
	}
}
