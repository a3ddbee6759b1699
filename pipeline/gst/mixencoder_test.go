package gst

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

func TestEncoderFragmentFor(t *testing.T) {
	p := EncoderParams{Width: 1280, Height: 720, FPS: 25, BitrateKbps: 3000, KeyInt: 50}
	tests := []struct {
		name   string
		choice Choice
		want   []string
	}{
		{"x264 is rebuilt for the session", Choice{Element: "x264enc", Fragment: "x264enc bitrate=1"},
			[]string{"x264enc", "bitrate=3000", "key-int-max=50", "bframes=0", "tune=zerolatency", "h264parse config-interval=-1"}},
		{"nvh264 uploads to CUDA", Choice{Element: "nvh264enc"},
			[]string{"cudaupload", "video/x-raw(memory:CUDAMemory)", "nvh264enc", "gop-size=50", "bframes=0"}},
		{"an unknown element keeps its own fragment", Choice{Element: "fakeenc", Fragment: "fakeenc ! h264parse"},
			[]string{"fakeenc ! h264parse"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := encoderFragmentFor(tc.choice, p.withDefaults())
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
		})
	}
}

// TestVideoEncoderFailsAlone: an encoder that breaks mid-stream ends its
// own Run with an error while the composite keeps making pictures; the
// next encoder takes over and honours keyframe requests.
func TestVideoEncoderFailsAlone(t *testing.T) {
	needElements(t, "x264enc", "compositor", "identity")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mix := startMix(t, MixSpec{Width: 320, Height: 180, FPS: 30, Points: 1}, MixSinks{})
	mix.SetTile(0, MixTile{W: 320, H: 180, Z: 10, Visible: true})

	p := EncoderParams{Width: 320, Height: 180, FPS: 30, BitrateKbps: 300, KeyInt: 300}
	broken := Choice{Name: "broken", Element: "brokenenc",
		Fragment: "videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast ! identity error-after=20 ! " + h264Out}
	var mu sync.Mutex
	var frames []*pipeline.Frame
	onFrame := func(f *pipeline.Frame) {
		mu.Lock()
		frames = append(frames, f)
		mu.Unlock()
	}
	enc, err := NewVideoEncoder(broken, p, onFrame, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	mix.SetEncoder(enc)
	runCtx, stopRun := context.WithTimeout(ctx, 15*time.Second)
	defer stopRun()
	if err := enc.Run(runCtx); err == nil || !strings.Contains(err.Error(), "brokenenc") {
		t.Fatalf("broken encoder: Run = %v, want its error; composite: %+v", err, mix.Poll())
	}
	raw, _ := mix.RawCounts()
	time.Sleep(500 * time.Millisecond)
	if after, _ := mix.RawCounts(); after <= raw {
		t.Fatalf("the composite stopped with its encoder (%d pictures, then %d)", raw, after)
	}

	x264, err := NewVideoEncoder(Choice{Name: "x264", Element: "x264enc"}, p, onFrame, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	mix.SetEncoder(x264)
	run := testkit.Start(t, "x264", x264.Run)
	run.WaitReady(x264.Ready(), 30*time.Second)
	waitCount := func(n int) int {
		for {
			mu.Lock()
			got := len(frames)
			mu.Unlock()
			if got >= n || ctx.Err() != nil {
				return got
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	n := waitCount(len(frames) + 20)
	if !x264.RequestKeyframe() {
		t.Fatal("keyframe request refused")
	}
	if x264.RequestKeyframe() {
		t.Error("a second request at once was passed on")
	}
	waitCount(n + 20)
	mu.Lock()
	key := -1
	for i, f := range frames[n:] {
		if f.Key {
			key = i
			break
		}
	}
	mu.Unlock()
	// With a 300-frame GOP only the request explains a keyframe this soon.
	if key < 0 || key > 15 {
		t.Errorf("keyframe %d pictures after the request, want within 15", key)
	}
	if err := run.Stop(); err != nil {
		t.Errorf("x264: %v", err)
	}
}
