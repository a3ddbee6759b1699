package recorder

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"diemcau/pipeline"
)

// TestStopKeepsTheLastSound: a composite's sound leaves its encoder up to
// ~100 ms after the picture of the same time, so when a run stops right
// after its last picture the sound of that last moment is still on its
// way. The recorder waits for it (briefly): the last segment's sound
// reaches its last picture, and a picture that comes after the stop is not
// recorded.
func TestStopKeepsTheLastSound(t *testing.T) {
	tests := []struct {
		name  string
		comes bool // the last sound comes, 50 ms after the stop
	}{
		{"sound after the stop", true},
		// The wait is bounded: a stop whose sound never comes (the mixer
		// stopped first) ends as before, its sound short of the picture.
		{"sound that never comes", false},
	}
	c := makeClip(t, "320x180", 4, "aac")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			rec := startRecorder(t, Config{Root: root, Segment: time.Minute, Part: time.Second, GapTimeout: 10 * time.Second})
			s := pipeline.NewStream("composite", c.tracks()...)
			run, err := rec.StartRun("demo", map[string]*pipeline.Stream{"composite": s})
			if err != nil {
				t.Fatal(err)
			}
			// Every picture up to end is in before the stop; the sound of
			// the last 150 ms comes lag after it.
			const end, late = 3 * time.Second, 150 * time.Millisecond
			var held []*pipeline.Frame
			var after *pipeline.Frame // the first picture at end: after the stop
			written := 0
			for _, f := range c.frames {
				switch {
				case f.PTS >= end && f.Track.Kind() == pipeline.Video:
					if after == nil {
						after = f
					}
					continue
				case f.PTS >= end:
					continue
				case f.Track.Kind() == pipeline.Audio && f.PTS >= end-late:
					held = append(held, f)
					continue
				}
				s.Write(f)
				written++
			}
			waitFor(t, "the frames before the stop recorded", func() bool {
				return run.Status().Streams[0].Frames >= uint64(written)
			}, nil)
			stopped := make(chan error, 1)
			go func() { stopped <- run.Stop() }()
			if tt.comes {
				time.Sleep(50 * time.Millisecond)
				s.Write(after)
				for _, f := range held {
					s.Write(f)
				}
			}
			select {
			case err := <-stopped:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the run did not stop within 10 s")
			}

			segs, _ := filepath.Glob(filepath.Join(run.Dir(), "composite", "*.mp4"))
			if len(segs) != 1 {
				t.Fatalf("segments %v, want one", segs)
			}
			video := ffprobe(t, segs[0]).videoDuration()
			sound := soundEnd(t, segs[0])
			t.Logf("picture %v, sound to %v", video, sound)
			switch short := video - sound; {
			case tt.comes && short > aacFrame:
				t.Errorf("the sound ends %v before the last picture, want within an AAC frame (%v)", short, aacFrame)
			case !tt.comes && short < late-aacFrame:
				t.Errorf("the sound ends %v before the last picture, want the %v that never came missing", short, late)
			}
			if video > end {
				t.Errorf("the picture runs to %v: the one after the stop was recorded", video)
			}
		})
	}
}

// soundEnd is where a file's last audio packet ends, by ffprobe.
func soundEnd(t *testing.T, p string) time.Duration {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "packet=pts_time,duration_time",
		"-of", "csv=p=0", p).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", p, err)
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		t.Fatalf("%s: no sound", p)
	}
	parts := strings.Split(strings.TrimSuffix(lines[len(lines)-1], ","), ",")
	var end float64
	for _, v := range parts {
		x, _ := strconv.ParseFloat(v, 64)
		end += x
	}
	return time.Duration(end * float64(time.Second))
}
