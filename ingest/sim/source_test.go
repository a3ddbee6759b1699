package sim

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"diemcau/ingest"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"ok", Config{ID: "tinh", URL: "sim://tinh"}, ""},
		{"no id", Config{URL: "sim://tinh"}, "id"},
		{"not sim", Config{ID: "a", URL: "rtsp://x/y"}, "url"},
		{"no name", Config{ID: "a", URL: "sim://"}, "url"},
		{"odd size", Config{ID: "a", URL: "sim://a", Width: 641, Height: 360}, "size"},
		{"fps", Config{ID: "a", URL: "sim://a", FPS: 240}, "fps"},
		{"tone", Config{ID: "a", URL: "sim://a", AudioFreq: -1}, "audio_freq"},
		{"the avsync pattern", Config{ID: "a", URL: "sim://a?pattern=avsync"}, ""},
		{"another pattern", Config{ID: "a", URL: "sim://a?pattern=smpte"}, "url"},
		{"an unknown query", Config{ID: "a", URL: "sim://a?fps=60"}, "url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, nil)
			testkit.WantFieldErr(t, err, tc.field)
		})
	}
}

// TestSourcePlays: frames reach the stream in real time with PTS that
// keep growing across the 2 s loop, keyframes at each GOP, and the tracker
// reports the source online.
func TestSourcePlays(t *testing.T) {
	for _, e := range []string{"x264enc", "opusenc"} {
		if !gst.HasElement(e) {
			t.Skipf("GStreamer element %s is not installed", e)
		}
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })

	src, err := New(Config{ID: "xa-a", Name: "UBND xã A", URL: "sim://xa-a", Width: 320, Height: 180, FPS: 25, BitrateKbps: 300, Audio: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := src.Status(); st.State != ingest.StateConnecting || st.URL != "sim://xa-a" {
		t.Fatalf("before Run: %+v", st)
	}
	reader := src.Stream().NewReader(pipeline.ReaderConfig{Name: "test"})
	defer reader.Close()

	testkit.Start(t, "sim source", src.Run)

	readCtx, readCancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer readCancel()
	var video, audio []*pipeline.Frame
	for len(video) < 60 { // 2.4 s: past the end of the first loop
		f, err := reader.Read(readCtx)
		if err != nil {
			t.Fatalf("after %d video frames: %v", len(video), err)
		}
		if f.Track.Kind() == pipeline.Video {
			video = append(video, f)
		} else {
			audio = append(audio, f)
		}
	}
	for i, f := range video {
		if want := time.Duration(i) * 40 * time.Millisecond; f.PTS != want || f.DTS != want {
			t.Fatalf("video frame %d: PTS %v, want %v", i, f.PTS, want)
		}
		if want := i%50 == 0; f.Key != want {
			t.Fatalf("video frame %d: key %v, want %v", i, f.Key, want)
		}
		if f.Track != src.Stream().Track(pipeline.Video) {
			t.Fatalf("video frame %d: track is not the stream's", i)
		}
	}
	// Audio runs alongside video: about 50 Opus frames a second.
	if len(audio) < 60 {
		t.Errorf("%d audio frames with 60 video frames", len(audio))
	}
	for i := 1; i < len(audio); i++ {
		if audio[i].PTS-audio[i-1].PTS != 20*time.Millisecond {
			t.Fatalf("audio frame %d: PTS step %v", i, audio[i].PTS-audio[i-1].PTS)
		}
	}
	st := src.Status()
	if st.State != ingest.StateOnline || st.Video == nil || st.Video.Width != 320 || st.Video.Height != 180 ||
		st.Audio == nil || st.Audio.Codec != "opus" || st.Frames < 60 || st.LastFrameAt == nil {
		t.Errorf("status: %+v video %+v audio %+v", st, st.Video, st.Audio)
	}

	// A keyframe request is answered by the next video frame.
	src.Stream().RequestKeyframe()
	for {
		f, err := reader.Read(readCtx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Track.Kind() == pipeline.Video {
			if !f.Key {
				t.Fatal("the frame after a keyframe request is not a keyframe")
			}
			break
		}
	}
}

// TestSourceStopsWhileEncoding: cancelling during the encode returns
// promptly and cleanly.
func TestSourceStopsWhileEncoding(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	src, err := New(Config{ID: "a", URL: "sim://a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := src.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if st := src.Status().State; st == ingest.StateOnline {
		t.Fatalf("state %s after a cancelled start", st)
	}
}
