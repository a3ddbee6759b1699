package gst

import (
	"context"
	"sync"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

func TestLiveEncoder(t *testing.T) {
	needElements(t, "x264enc", "textoverlay", "clockoverlay", "opusenc")
	var mu sync.Mutex
	var video, audio []*pipeline.Frame
	enc, err := NewLiveEncoder(LiveConfig{
		TestPicture: TestPicture{Width: 320, Height: 180, FPS: 15, Label: "cam1", Clock: true},
		BitrateKbps: 300, Audio: AudioOpus, AudioFreq: 600,
	}, testkit.Logger(t), func(f *pipeline.Frame) {
		mu.Lock()
		defer mu.Unlock()
		if f.Track.Kind() == pipeline.Video {
			video = append(video, f)
		} else {
			audio = append(audio, f)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- enc.Run(ctx) }()
	counts := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(video), len(audio)
	}
	deadline := time.After(60 * time.Second)
	for v, a := counts(); v < 20 || a < 20; v, a = counts() {
		select {
		case err := <-done:
			t.Fatalf("encoder ended: %v", err)
		case <-deadline:
			t.Fatalf("only %d video and %d audio frames", v, a)
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !video[0].Key || video[0].Track.Width != 320 || video[0].Track.Height != 180 {
		t.Errorf("first video frame: key %v track %+v", video[0].Key, video[0].Track)
	}
	for i := 1; i < len(video); i++ {
		if video[i].PTS <= video[i-1].PTS {
			t.Fatalf("video PTS not increasing at %d: %v after %v", i, video[i].PTS, video[i-1].PTS)
		}
	}
	if audio[0].Track.Codec != pipeline.Opus || len(audio[0].Payload) == 0 {
		t.Errorf("audio: %+v", audio[0].Track)
	}
}
