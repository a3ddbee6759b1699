package mixer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// TestLowRendition: with Output.Low set, the composite is encoded twice
// from the same pictures: the low stream's pictures are the low size, at
// the main one's times, show the same tiles, and carry the same sound; the
// main encoder is not restarted for it.
func TestLowRendition(t *testing.T) {
	needTools(t, "x264enc", "compositor", "audiomixer", "opusenc", "textoverlay", "videoscale")
	const lowW, lowH = 160, 90
	loops := encodeLoops(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var cams []*camera
	for i, l := range loops {
		cams = append(cams, newCamera(fmt.Sprintf("cam%d", i), l))
	}
	s := startSession(t, ctx, cams, func(c *Config) {
		c.Output.Low = LowRendition{Width: lowW, Height: lowH, BitrateKbps: 150}
	})
	defer s.stop(t)
	if s.mixer.Low() == nil {
		t.Fatal("no low rendition stream")
	}
	low := collect(ctx, &s.wg, s.mixer.Low())
	var ret, lowRet *collector
	testkit.WaitFor(t, ctx, "point p0's return feeds", func() bool {
		return s.mixer.ReturnFeed("p0") != nil && s.mixer.LowReturnFeed("p0") != nil
	})
	ret, lowRet = collect(ctx, &s.wg, s.mixer.ReturnFeed("p0")), collect(ctx, &s.wg, s.mixer.LowReturnFeed("p0"))
	s.waitFrames(t, ctx, 90)
	testkit.WaitFor(t, ctx, "60 low pictures", func() bool { return len(low.snapshot(pipeline.Video)) >= 60 })

	main, lv := s.outputs.snapshot(pipeline.Video), low.snapshot(pipeline.Video)
	tr := lv[len(lv)-1].Track
	if tr.Width != lowW || tr.Height != lowH || tr.Codec != pipeline.H264 {
		t.Errorf("low track %s %dx%d, want h264 %dx%d", tr.Codec, tr.Width, tr.Height, lowW, lowH)
	}
	if mt := main[len(main)-1].Track; mt.Width != testW || mt.Height != testH {
		t.Errorf("main track %dx%d, want %dx%d", mt.Width, mt.Height, testW, testH)
	}
	// The same composite pictures: every low picture's time is one of
	// the main rendition's (both encoders take the same buffers).
	at := map[time.Duration]bool{}
	for _, f := range main {
		at[f.PTS] = true
	}
	shared, span := 0, lv[len(lv)-1].PTS-main[0].PTS
	for _, f := range lv {
		if f.PTS >= main[0].PTS && f.PTS <= main[len(main)-1].PTS {
			if at[f.PTS] {
				shared++
			} else {
				t.Errorf("low picture at %v is at no main picture's time", f.PTS)
				break
			}
		}
	}
	if shared < 30 {
		t.Errorf("only %d low pictures within the main rendition's %v", shared, span)
	}
	keys := 0
	for _, f := range lv {
		if f.Key {
			keys++
		}
	}
	if keys == 0 {
		t.Error("no keyframe in the low rendition")
	}

	// The same tiles: the low picture, scaled, shows each camera's colour
	// where the main one does.
	pix := picture(t, lv, lowW, lowH)
	for i, tile := range Arrange(Grid, len(cams), 0, lowW, lowH) {
		x, y := tileProbe(tile.Rect)
		got := meanRGB(pix, lowW, x, y)
		if d := colourDistance(got, testPatterns[i].rgb); d > 80 {
			t.Errorf("low rendition tile %d: %s, want near %s", i, fmtRGB(got), fmtRGB(testPatterns[i].rgb))
		}
	}

	// One sound for both: the full mix's frames, the very same ones.
	la, ma := low.snapshot(pipeline.Audio), s.outputs.snapshot(pipeline.Audio)
	if len(la) == 0 || len(ma) == 0 {
		t.Fatalf("audio frames: low %d, main %d", len(la), len(ma))
	}
	mainAudio := map[*pipeline.Frame]bool{}
	for _, f := range ma {
		mainAudio[f] = true
	}
	if !mainAudio[la[len(la)/2]] {
		t.Error("the low rendition's sound is not the composite's")
	}
	// A return feed has its low rendition too: the low pictures with the
	// point's own mix-minus, the very frames of its main return feed.
	testkit.WaitFor(t, ctx, "the low return feed's sound and pictures", func() bool {
		return len(lowRet.snapshot(pipeline.Audio)) > 10 && len(lowRet.snapshot(pipeline.Video)) > 10 && len(ret.snapshot(pipeline.Audio)) > 10
	})
	rv := lowRet.snapshot(pipeline.Video)
	if tr := rv[len(rv)-1].Track; tr.Width != lowW || tr.Height != lowH {
		t.Errorf("low return feed %dx%d, want %dx%d", tr.Width, tr.Height, lowW, lowH)
	}
	mm := map[*pipeline.Frame]bool{}
	for _, f := range ret.snapshot(pipeline.Audio) {
		mm[f] = true
	}
	ra := lowRet.snapshot(pipeline.Audio)
	if !mm[ra[len(ra)/2]] || mainAudio[ra[len(ra)/2]] {
		t.Error("the low return feed's sound is not the point's mix-minus")
	}
	if n := s.mixer.encoderRestarts.Load(); n != 0 {
		t.Errorf("%d encoder restarts", n)
	}
}
