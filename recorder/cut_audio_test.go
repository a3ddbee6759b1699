package recorder

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"diemcau/pipeline"
)

// Sound that reaches the recorder after the picture of the same time (the
// composite's AAC leaves its encoder ~50 ms after the picture; cameras send
// sound in bursts) is not lost at the cuts: every audio frame fed is in
// some segment, and each segment's sound starts with the sound of its first
// picture rather than a frame or more into it. Sound can also come early:
// at a run's start under load the composite's video encoder gave its first
// picture seconds after the sound of the same time (a CI run archived a
// first segment with a quarter of its sound); the segment must still hold
// all the sound from its first picture on.
func TestCutKeepsLateSound(t *testing.T) {
	tests := []struct {
		name string
		lag  time.Duration // each audio frame arrives this long after its picture
		// pictureFrom holds back every picture until this media time, as a
		// video encoder that is slow to start does.
		pictureFrom time.Duration
	}{
		{"in order", 0, 0},
		{"encoder latency", 70 * time.Millisecond, 0},
		{"burst", 400 * time.Millisecond, 0},
		{"picture slow to start", 0, 3500 * time.Millisecond},
	}
	c := makeClip(t, "320x180", 4, "aac")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			rec := startRecorder(t, Config{Root: root, Segment: 2 * time.Second, Part: time.Second, GapTimeout: 10 * time.Second})
			s := pipeline.NewStream("composite", c.tracks()...)
			run, err := rec.StartRun("demo", map[string]*pipeline.Stream{"composite": s})
			if err != nil {
				t.Fatal(err)
			}
			fedAudio := feedWithAudioLag(t, s, c, 9*time.Second, tt.lag, tt.pictureFrom)
			if err := run.Stop(); err != nil {
				t.Fatal(err)
			}
			runs, err := ListRuns(root, "demo")
			if err != nil || len(runs) != 1 {
				t.Fatalf("ListRuns: %v, %d runs", err, len(runs))
			}
			audio, segs := 0, 0
			for _, seg := range runs[0].Segments {
				p := filepath.Join(run.Dir(), filepath.FromSlash(seg.File))
				_, _, _, _, n := ffprobe(t, p).stream("audio")
				audio += n
				segs++
				if first := audioStart(t, p); (segs > 1 || tt.pictureFrom > 0) && first > aacFrame {
					t.Errorf("%s: sound starts at %v, more than a frame after its first picture", seg.File, first)
				}
			}
			if segs < 4 {
				t.Errorf("%d segments, want at least 4", segs)
			}
			if audio != fedAudio {
				t.Errorf("%d audio frames in %d segments, %d fed: %d lost at the cuts", audio, segs, fedAudio, fedAudio-audio)
			}
		})
	}
}

// aacFrame is the length of one AAC frame at 48 kHz.
const aacFrame = 1024 * time.Second / 48000

// feedWithAudioLag writes c's frames up to media time until, four times
// faster than real time, each audio frame lag after the picture of its
// time and no picture before pictureFrom; it returns how many audio frames
// it wrote.
func feedWithAudioLag(t *testing.T, s *pipeline.Stream, c *clip, until, lag, pictureFrom time.Duration) int {
	t.Helper()
	type arrival struct {
		f  pipeline.Frame
		at time.Duration
	}
	var all []arrival
	for loop := time.Duration(0); loop < until; loop += c.duration {
		for _, f := range c.frames {
			if loop+f.PTS >= until {
				break
			}
			out := *f
			out.PTS, out.DTS = loop+f.PTS, loop+f.DTS
			at := out.PTS
			if f.Track.Kind() == pipeline.Audio {
				at += lag
			} else {
				at = max(at, pictureFrom)
			}
			all = append(all, arrival{out, at})
		}
	}
	slices.SortStableFunc(all, func(a, b arrival) int { return int(a.at - b.at) })
	ctx := testContext(t, time.Minute)
	start, audio := time.Now(), 0
	for i := range all {
		if wait := all[i].at/4 - time.Since(start); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
		}
		f := all[i].f
		s.Write(&f)
		if f.Track.Kind() == pipeline.Audio {
			audio++
		}
	}
	return audio
}

// audioStart is when a file's sound starts, by ffprobe.
func audioStart(t *testing.T, p string) time.Duration {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "stream=start_time",
		"-of", "csv=p=0", p).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", p, err)
	}
	sec, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("ffprobe %s: start_time %q", p, out)
	}
	return time.Duration(sec * float64(time.Second))
}
