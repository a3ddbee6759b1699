package gst

import (
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
	run := testkit.Start(t, "live encoder", enc.Run)
	counts := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(video), len(audio)
	}
	run.Eventually(60*time.Second, "20 video and 20 audio frames", func() bool { v, a := counts(); return v >= 20 && a >= 20 })
	if err := run.Stop(); err != nil {
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
