package gst

import (
	"context"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

func TestEncodeLoop(t *testing.T) {
	needElements(t, "x264enc", "textoverlay", "opusenc")
	tests := []struct {
		name       string
		cfg        LoopConfig
		wantFrames int
		wantAudio  pipeline.Codec
	}{
		{
			name:       "2 s at 25 fps with a label and opus",
			cfg:        LoopConfig{TestPicture: TestPicture{Width: 320, Height: 180, FPS: 25, Label: `Điểm cầu "Tỉnh"`}, BitrateKbps: 300, Audio: AudioOpus, AudioFreq: 500},
			wantFrames: 50,
			wantAudio:  pipeline.Opus,
		},
		{
			name:       "3 s rounds up to whole GOPs",
			cfg:        LoopConfig{TestPicture: TestPicture{Width: 320, Height: 180, FPS: 10}, BitrateKbps: 200, Seconds: 3},
			wantFrames: 40,
		},
		{
			name:       "aac",
			cfg:        LoopConfig{TestPicture: TestPicture{Width: 320, Height: 180, FPS: 15}, BitrateKbps: 200, Audio: AudioAAC},
			wantFrames: 30,
			wantAudio:  pipeline.AAC,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantAudio == pipeline.AAC && aacEncoder(HasElement) == "" {
				t.Skip("no AAC encoder (avenc_aac, fdkaacenc) installed")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			l, err := EncodeLoop(ctx, tc.cfg, testkit.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(l.VideoFrames); got != tc.wantFrames {
				t.Fatalf("frames: got %d, want %d", got, tc.wantFrames)
			}
			if l.Video.Width != 320 || l.Video.Height != 180 || l.Video.Codec != pipeline.H264 {
				t.Errorf("track: %+v", l.Video)
			}
			gop := 2 * tc.cfg.FPS
			for i, f := range l.VideoFrames {
				if want := i%gop == 0; f.Key != want {
					t.Errorf("frame %d: key %v, want %v (GOP %d)", i, f.Key, want, gop)
				}
				if f.PTS != l.FramePTS(int64(i)) || f.DTS != f.PTS {
					t.Errorf("frame %d: pts %v dts %v", i, f.PTS, f.DTS)
				}
				if f.Key && !hasNALU(f, h264.NALUTypeSPS, h264.NALUTypePPS, h264.NALUTypeIDR) {
					t.Errorf("frame %d: keyframe without SPS, PPS and IDR", i)
				}
				for _, n := range f.NALUs {
					if len(n) >= 3 && n[0] == 0 && n[1] == 0 && (n[2] == 1 || n[2] == 0) {
						t.Fatalf("frame %d: NAL unit starts with a start code", i)
					}
				}
			}
			if l.Duration() != time.Duration(tc.wantFrames)*time.Second/time.Duration(tc.cfg.FPS) {
				t.Errorf("duration %v", l.Duration())
			}
			if tc.wantAudio == "" {
				if l.Audio != nil || len(l.AudioFrames) != 0 {
					t.Errorf("unexpected audio")
				}
				return
			}
			if l.Audio == nil || l.Audio.Codec != tc.wantAudio || l.Audio.SampleRate != 48000 {
				t.Fatalf("audio track: %+v", l.Audio)
			}
			// The tone covers the video loop to within a frame or two of encoder delay.
			audioDur := l.AudioPTS(int64(len(l.AudioFrames)))
			if d := audioDur - l.Duration(); d < -100*time.Millisecond || d > 100*time.Millisecond {
				t.Errorf("audio lasts %v, video %v", audioDur, l.Duration())
			}
			if tc.wantAudio == pipeline.AAC && len(l.Audio.Config) < 2 {
				t.Errorf("aac without AudioSpecificConfig")
			}
		})
	}
}

func TestLoopConfigValidate(t *testing.T) {
	ok := LoopConfig{TestPicture: TestPicture{Width: 320, Height: 180, FPS: 25}, BitrateKbps: 300}
	tests := []struct {
		name  string
		edit  func(*LoopConfig)
		field string
	}{
		{"odd width", func(c *LoopConfig) { c.Width = 321 }, "width"},
		{"no height", func(c *LoopConfig) { c.Height = 0 }, "height"},
		{"fps", func(c *LoopConfig) { c.FPS = 0 }, "fps"},
		{"bitrate", func(c *LoopConfig) { c.BitrateKbps = -1 }, "bitrate"},
		{"audio", func(c *LoopConfig) { c.Audio = "mp3" }, "audio"},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !startsWith(err.Error(), tc.field) {
				t.Fatalf("got %v, want an error naming %q", err, tc.field)
			}
		})
	}
}

func hasNALU(f *pipeline.Frame, types ...h264.NALUType) bool {
	for _, want := range types {
		found := false
		for _, n := range f.NALUs {
			if h264.NALUType(n[0]&0x1f) == want {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func startsWith(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
