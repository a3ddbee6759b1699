package gst

import (
	"context"
	"testing"

	"diemcau/internal/testkit"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// needElements skips a test when a GStreamer plugin it needs is missing.
func needElements(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if !HasElement(n) {
			t.Skipf("GStreamer element %s is not installed", n)
		}
	}
}

// testLoop encodes the test picture (320×180 at 30 fps, 300 kbit/s) into
// a loop, with a 600 Hz tone in Opus where sound is true.
func testLoop(t *testing.T, ctx context.Context, sound bool) *Loop {
	t.Helper()
	cfg := LoopConfig{TestPicture: TestPicture{Width: 320, Height: 180, FPS: 30}, BitrateKbps: 300}
	if sound {
		cfg.Audio, cfg.AudioFreq = AudioOpus, 600
	}
	loop, err := EncodeLoop(ctx, cfg, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	return loop
}

// startMix builds and starts a Mix, stopped when the test ends.
func startMix(t *testing.T, spec MixSpec, sinks MixSinks) *Mix {
	t.Helper()
	mix, err := NewMix(spec, sinks, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := mix.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mix.Stop)
	return mix
}
