package mixer

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// h265Loop encodes a green test picture with ffmpeg's libx265 (no B-frames,
// parameter sets and an AUD on every access unit) and splits it into
// access units.
func h265Loop(t *testing.T) *gst.Loop {
	t.Helper()
	path := filepath.Join(t.TempDir(), "green.h265")
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=green:s=320x180:r=30", "-t", "2",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=30:bframes=0:repeat-headers=1:aud=1:log-level=error",
		"-f", "hevc", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("ffmpeg cannot encode H.265 here: %v %s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := &pipeline.Track{Codec: pipeline.H265, Width: 320, Height: 180, FPS: 30}
	l := &gst.Loop{Video: tr, FrameDuration: time.Second / 30}
	var au [][]byte
	flush := func() {
		if len(au) == 0 {
			return
		}
		key := false
		for _, n := range au {
			if typ := (n[0] >> 1) & 0x3f; typ >= 16 && typ <= 21 {
				key = true
			}
		}
		pts := time.Duration(len(l.VideoFrames)) * l.FrameDuration
		l.VideoFrames = append(l.VideoFrames, &pipeline.Frame{Track: tr, PTS: pts, DTS: pts, Key: key, NALUs: au})
		au = nil
	}
	for _, n := range bytes.Split(data, []byte{0, 0, 1}) {
		n = bytes.TrimRight(n, "\x00")
		if len(n) < 2 {
			continue
		}
		if (n[0]>>1)&0x3f == 35 { // access unit delimiter starts the next AU
			flush()
			continue
		}
		au = append(au, n)
	}
	flush()
	if len(l.VideoFrames) < 30 || !l.VideoFrames[0].Key {
		t.Fatalf("split %d H.265 access units, first key %v", len(l.VideoFrames), len(l.VideoFrames) > 0 && l.VideoFrames[0].Key)
	}
	return l
}

// garbageLoop claims to be H.264 but carries random bytes behind plausible
// NAL headers, keyframes included.
func garbageLoop() *gst.Loop {
	tr := &pipeline.Track{Codec: pipeline.H264, Width: 320, Height: 180, FPS: 30,
		SPS: []byte{0x67, 0x42, 0xc0, 0x1e, 0xde, 0xad}, PPS: []byte{0x68, 0xbe, 0xef}}
	l := &gst.Loop{Video: tr, FrameDuration: time.Second / 30}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 60 {
		key := i%30 == 0
		n := make([]byte, 200+r.IntN(2000))
		for j := range n {
			n[j] = byte(r.UintN(256))
		}
		n[0] = 0x41
		if key {
			n[0] = 0x65
		}
		pts := time.Duration(i) * l.FrameDuration
		l.VideoFrames = append(l.VideoFrames, &pipeline.Frame{Track: tr, PTS: pts, DTS: pts, Key: key, NALUs: [][]byte{n}})
	}
	return l
}

// TestBadInputs runs a good camera beside one sending garbage and one
// sending H.265: the composite keeps its pictures coming and the good
// camera its tile; garbage shows the slate; H.265 is decoded too.
func TestBadInputs(t *testing.T) {
	needTools(t, "x264enc", "compositor", "audiomixer", "opusenc", "avdec_h265")
	good := encodeLoops(t, 1)[0]
	cams := []*camera{newCamera("good", good), newCamera("garbage", garbageLoop()), newCamera("hevc", h265Loop(t))}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := startSession(t, ctx, cams, nil)
	defer s.stop(t)

	testkit.WaitFor(t, ctx, "the good and the H.265 camera live", func() bool {
		p := s.mixer.Stats().Points
		return p[0].Live && p[2].Live
	})
	from := s.lastPTS()
	time.Sleep(3 * time.Second)
	v := s.videoSince(from)
	if len(v) < 2*testFPS {
		t.Fatalf("%d composite pictures in 3 s", len(v))
	}
	if gap := maxGap(v); gap > stallGap {
		t.Errorf("composite stalled %v", gap)
	}
	st := s.mixer.Stats()
	if !st.Points[0].Live || st.Points[1].Live || !st.Points[2].Live {
		t.Errorf("live: good %v, garbage %v, h265 %v; want true, false, true",
			st.Points[0].Live, st.Points[1].Live, st.Points[2].Live)
	}
	pix := picture(t, v, testW, testH)
	tiles := Arrange(Grid, 3, 0, testW, testH)
	for i, want := range [][3]int{testPatterns[0].rgb, slateRGB(), {0, 128, 0}} {
		x, y := tileProbe(tiles[i].Rect)
		if got := meanRGB(pix, testW, x, y); colourDistance(got, want) > 60 {
			t.Errorf("tile %d: %s, want about %s", i, fmtRGB(got), fmtRGB(want))
		}
	}
}

// fakeRegistry pretends every element exists; the named ones fail their
// trial.
type fakeRegistry struct{ failing map[string]bool }

func (f fakeRegistry) HasElement(string) bool { return true }

func (f fakeRegistry) TryEncode(_ context.Context, fragment string, _ gst.EncoderParams) error {
	for e := range f.failing {
		if bytes.Contains([]byte(fragment), []byte(e+" ")) {
			return os.ErrNotExist
		}
	}
	return nil
}

func (f fakeRegistry) TryDecode(context.Context, string) error { return nil }

// TestEncoderFallback starts on a hardware encoder this machine does not
// have (it fails as soon as it runs, as a lost device would): the mixer
// moves on to the next candidate that works and the composite goes on.
func TestEncoderFallback(t *testing.T) {
	needTools(t, "x264enc", "compositor", "audiomixer", "opusenc")
	if gst.HasElement("nvh264enc") {
		t.Skip("this machine has nvh264enc: it would not fail")
	}
	cams := []*camera{newCamera("cam", encodeLoops(t, 1)[0])}
	reg := fakeRegistry{failing: map[string]bool{"vah264enc": true, "vaapih264enc": true, "qsvh264enc": true, "v4l2h264enc": true}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	s := startSessionWith(t, ctx, cams, func(c *Config) {
		c.Encoder = gst.Choice{Name: "nvh264", Element: "nvh264enc", Hardware: true}
	}, reg)
	defer s.stop(t)
	s.waitFrames(t, ctx, 30)
	st := s.mixer.Stats()
	t.Logf("first composite picture after %v; encoder %s, %d fallback(s)", time.Since(start).Round(time.Millisecond), st.Encoder, st.EncoderRestarts)
	if st.Encoder != "x264enc" || st.EncoderHardware || st.EncoderRestarts != 1 {
		t.Errorf("encoder %s (hardware %v) after %d fallbacks, want x264enc after 1", st.Encoder, st.EncoderHardware, st.EncoderRestarts)
	}
}

// TestPointChangesFormat: a camera that changes size (320x180 to 640x360)
// and then codec (to H.265) mid-session keeps its tile live, and the
// composite goes on without a restart (same track, no gap).
func TestPointChangesFormat(t *testing.T) {
	needTools(t, "x264enc", "compositor", "audiomixer", "opusenc", "avdec_h265")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	small := encodeLoops(t, 1)[0] // red 320x180, with audio
	big, err := gst.EncodeLoop(ctx, gst.LoopConfig{
		TestPicture: gst.TestPicture{Width: 640, Height: 360, FPS: 30, Pattern: "blue"}, BitrateKbps: 300,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hevc := h265Loop(t) // green 320x180
	cam := newCamera("cam", small)
	s := startSession(t, ctx, []*camera{cam}, nil)
	defer s.stop(t)
	full := Arrange(Grid, 1, 0, testW, testH)[0].Rect

	from := time.Duration(-1)
	for _, step := range []struct {
		name string
		loop *gst.Loop
		rgb  [3]int
	}{{"h264 320x180", small, testPatterns[0].rgb}, {"h264 640x360", big, [3]int{0, 0, 255}}, {"h265 320x180", hevc, [3]int{0, 128, 0}}} {
		cam.switchTo(step.loop)
		var got [3]int
		testkit.WaitFor(t, ctx, step.name+" on its tile", func() bool {
			v := s.outputs.snapshot(pipeline.Video)
			if len(v) < 30 {
				return false
			}
			x, y := tileProbe(full)
			got = meanRGB(picture(t, v, testW, testH), testW, x, y)
			return colourDistance(got, step.rgb) < 60
		})
		t.Logf("%s: tile %s", step.name, fmtRGB(got))
		if from < 0 {
			from = s.lastPTS() // the changes start here
		}
	}
	v := s.videoSince(from)
	for _, f := range v[1:] {
		if f.Track != v[0].Track {
			t.Fatal("the composite's track changed: its encoder restarted")
		}
	}
	if gap := maxGap(v); gap > stallGap {
		t.Errorf("composite stalled %v across the changes", gap)
	}
}
