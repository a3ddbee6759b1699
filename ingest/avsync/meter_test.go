package avsync_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"diemcau/ingest/avsync"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not installed", b)
		}
	}
}

// patternVideo is ffmpeg's own avsync pattern at 320x180, 30 fps: black
// with a grey square moving along the bottom, white for the first 100 ms
// of every second.
const patternVideo = "color=c=black:s=320x180:r=30:d=%[1]d[bg];color=c=gray:s=16x16:r=30:d=%[1]d[ball];" +
	"[bg][ball]overlay=x='mod(t*240\\,W)':y=H-20:eval=frame," +
	"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='lt(mod(t\\,1)\\,0.1)'[out0]"

// patternAudio is a 1 kHz beep for 100 ms from shift past every second,
// sample-exact (aevalsrc computes every sample).
const patternAudio = "aevalsrc='if(lt(mod(t-%[2]g\\,1)\\,0.1)\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000:d=%[1]d"

// makeFile encodes a test file with ffmpeg from lavfi sources.
func makeFile(t *testing.T, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", append(append([]string{"-hide_banner", "-v", "error", "-y"}, args...), out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return out
}

func lavfi(graph string, a ...any) []string {
	return []string{"-f", "lavfi", "-i", fmt.Sprintf(graph, a...)}
}

var h264 = []string{"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30"}

func TestMeasureFiles(t *testing.T) {
	needFFmpeg(t)
	const secs = 6
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name    string
		args    []string
		file    string
		verdict string
		offset  float64 // NaN: none
		reason  string
	}{
		{
			name: "in sync, opus in mp4", file: "sync.mp4", verdict: avsync.Pass, offset: 0,
			args: cat(lavfi(patternVideo, secs), lavfi(patternAudio, secs, 0.0), h264, []string{"-c:a", "libopus", "-b:a", "64k", "-shortest"}),
		},
		{
			name: "sound shifted 100 ms late, aac", file: "late.mp4", verdict: avsync.Fail, offset: 100, reason: "outside EBU R37",
			args: cat(lavfi(patternVideo, secs), lavfi(patternAudio, secs, 0.1), h264, []string{"-c:a", "aac", "-b:a", "96k", "-shortest"}),
		},
		{
			name: "sound 30 ms early passes", file: "early.mp4", verdict: avsync.Pass, offset: -30,
			args: cat(lavfi(patternVideo, secs), lavfi(patternAudio, secs, 0.97), h264, []string{"-c:a", "libopus", "-shortest"}),
		},
		{
			name: "an mp4 without audio", file: "mute.mp4", verdict: avsync.Fail, offset: math.NaN(), reason: "no audio track",
			args: cat(lavfi(patternVideo, secs), h264),
		},
		{
			name: "no pattern: offset n/a, the rest measured", file: "plain.mp4", verdict: avsync.Pass, offset: math.NaN(),
			args: cat(lavfi("testsrc2=s=320x180:r=25:d=%d", secs), lavfi("sine=f=440:r=48000:d=%d", secs), h264, []string{"-c:a", "aac", "-shortest"}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := makeFile(t, tc.file, tc.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			rep, err := avsync.Measure(ctx, file, avsync.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != tc.verdict {
				t.Errorf("verdict %s %v, want %s", rep.Verdict, rep.Reasons, tc.verdict)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(rep.Reasons, ";"), tc.reason) {
				t.Errorf("reasons %v, want one with %q", rep.Reasons, tc.reason)
			}
			checkOffset(t, rep, tc.offset, 2)
			if rep.Video == nil || rep.Video.Frames < 25*secs-2 || rep.Video.Width != 320 || len(rep.Video.Holes) != 0 || len(rep.Video.Freezes) != 0 {
				t.Errorf("video %+v", rep.Video)
			}
			if a := rep.Audio; a != nil && (a.Present < 99 || len(a.Holes) != 0) {
				t.Errorf("audio %+v", a)
			}
		})
	}
	t.Run("a file that is not there", func(t *testing.T) {
		_, err := avsync.Measure(context.Background(), filepath.Join(t.TempDir(), "none.mp4"), avsync.Options{})
		if !errors.Is(err, avsync.ErrOpen) {
			t.Fatalf("error %v, want ErrOpen", err)
		}
	})
	t.Run("a file that is not media", func(t *testing.T) {
		bad := makeFile(t, "x.txt", "-f", "lavfi", "-i", "sine=d=0.1", "-f", "s16le")
		_, err := avsync.Measure(context.Background(), bad, avsync.Options{})
		if !errors.Is(err, avsync.ErrOpen) {
			t.Fatalf("error %v, want ErrOpen", err)
		}
	})
}

// checkOffset wants the report's offset within tol ms of want (NaN: none).
func checkOffset(t *testing.T, rep avsync.Report, want, tol float64) {
	t.Helper()
	switch {
	case math.IsNaN(want) && rep.Offset != nil:
		t.Errorf("offset %+v, want none", *rep.Offset)
	case math.IsNaN(want):
	case rep.Offset == nil:
		t.Errorf("no offset (flashes %v, audio %+v), want %v ms", rep.Video, rep.Audio, want)
	case math.Abs(rep.Offset.Median-want) > tol || rep.Offset.Pairs < 2:
		t.Errorf("offset %+v, want %v ± %v ms", *rep.Offset, want, tol)
	}
}
