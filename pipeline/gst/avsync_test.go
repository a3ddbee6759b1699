package gst

import (
	"context"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// TestEncodeLoopAVSync checks the pattern loop's shape: whole seconds of
// video with an IDR on every second (the flash), and exactly as many
// seconds of whole audio frames, so a replay keeps the pattern's phase.
// What the pattern shows and sounds like is measured by the meter
// (ingest/avsync) on camsim and sim:// sources.
func TestEncodeLoopAVSync(t *testing.T) {
	needElements(t, "x264enc", "opusenc", "concat")
	tests := []struct {
		name        string
		cfg         LoopConfig
		tonesOnly   bool
		wantSeconds int
	}{
		{
			name:        "opus at 30 fps",
			cfg:         LoopConfig{TestPicture: TestPicture{Width: 320, Height: 180, FPS: 30, Label: "cam1", Pattern: pipeline.PatternAVSync}, BitrateKbps: 300, Audio: AudioOpus},
			wantSeconds: 2,
		},
		{
			name:        "aac rounds up to 8 s",
			cfg:         LoopConfig{TestPicture: TestPicture{Width: 320, Height: 180, FPS: 25, Pattern: pipeline.PatternAVSync}, BitrateKbps: 200, Audio: AudioAAC, Seconds: 3},
			wantSeconds: 8,
		},
		{
			name:        "a second camera's tone alone",
			cfg:         LoopConfig{TestPicture: TestPicture{Width: 320, Height: 180, FPS: 30, Pattern: pipeline.PatternAVSync}, BitrateKbps: 300, Audio: AudioOpus, AudioFreq: 1100},
			tonesOnly:   true,
			wantSeconds: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Audio == AudioAAC && aacEncoder(HasElement) == "" {
				t.Skip("no AAC encoder installed")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			encode := EncodeLoop
			if tc.tonesOnly {
				encode = EncodeToneLoop
			}
			l, err := encode(ctx, tc.cfg, testkit.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			want := time.Duration(tc.wantSeconds) * time.Second
			if got := l.AudioPTS(int64(len(l.AudioFrames))); got != want {
				t.Errorf("audio loop %v, want %v", got, want)
			}
			if tc.tonesOnly {
				if l.Video != nil || len(l.VideoFrames) != 0 {
					t.Errorf("tone loop has video")
				}
				return
			}
			if l.Duration() != want || l.GOP != tc.cfg.FPS {
				t.Fatalf("video loop %v with GOP %d, want %v with GOP %d", l.Duration(), l.GOP, want, tc.cfg.FPS)
			}
			for i, f := range l.VideoFrames {
				if want := i%tc.cfg.FPS == 0; f.Key != want {
					t.Errorf("frame %d: key %v, want %v", i, f.Key, want)
				}
			}
		})
	}
}

func TestAVSyncFlashFrames(t *testing.T) {
	for fps, want := range map[int]int{1: 1, 5: 1, 10: 1, 15: 2, 25: 3, 30: 3, 50: 5, 60: 6} {
		if got := AVSyncFlashFrames(fps); got != want {
			t.Errorf("%d fps: %d frames, want %d", fps, got, want)
		}
	}
}
