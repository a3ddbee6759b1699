package mixer

import (
	"context"
	"errors"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline/gst"
)

// installedRegistry pretends only the named elements exist, and that they
// all work.
type installedRegistry map[string]bool

func (r installedRegistry) HasElement(name string) bool { return r[name] }
func (r installedRegistry) TryEncode(context.Context, string, gst.EncoderParams) error {
	return nil
}
func (r installedRegistry) TryDecode(_ context.Context, fragment string) error {
	for name := range r {
		if len(fragment) >= len(name) && fragment[:len(name)] == name {
			return nil
		}
	}
	return errors.New("not installed")
}

// TestDecoderFallback starts on a "hardware decoder" that fails at run
// time after a few pictures, as a lost device or a session limit would
// (GStreamer's identity with error-after stands in for it): the mixer
// moves every branch built from then on to the next decoder that works,
// rebuilds the failed point at once, and its picture comes back.
func TestDecoderFallback(t *testing.T) {
	needTools(t, "x264enc", "compositor", "audiomixer", "opusenc", "textoverlay", "identity")
	loops := encodeLoops(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cam := newCamera("cam0", loops[0])
	reg := installedRegistry{"avdec_h264": true, "x264enc": true}
	s := startSessionWith(t, ctx, []*camera{cam}, func(c *Config) {
		c.Decoder = gst.Choice{Name: "nvh264", Element: "nvh264dec", Hardware: true,
			Fragment: "identity error-after=20 ! avdec_h264"}
	}, reg)
	defer s.stop(t)
	testkit.WaitFor(t, ctx, "the software decoder took over", func() bool {
		st := s.mixer.Stats()
		return st.Decoder == "avdec_h264" && st.DecoderRestarts == 1
	})
	before := s.mixer.Stats().Points[0].Pictures
	testkit.WaitFor(t, ctx, "the point's pictures back", func() bool {
		p := s.mixer.Stats().Points[0]
		return p.Live && p.Pictures > before+15
	})
	s.waitFrames(t, ctx, 10)
	s.checkTiles(t, nil)
	if st := s.mixer.Stats(); st.DecoderHardware || st.DecoderRestarts != 1 {
		t.Errorf("stats after the fallback: decoder %s hardware %v restarts %d", st.Decoder, st.DecoderHardware, st.DecoderRestarts)
	}
}
