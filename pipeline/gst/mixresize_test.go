package gst

import (
	"context"
	"sync"
	"testing"
	"time"

	"diemcau/pipeline"
)

// TestMixResizeUnderLoad flips a fed point's tile size and its slate as
// fast as an owner could while pictures flow: each flip renegotiates the
// branch's scaler and the slate's source, and none may fail (a caps change
// racing a negotiation once stopped a whole composite with not-negotiated).
func TestMixResizeUnderLoad(t *testing.T) {
	needElements(t, "compositor", "audiomixer", "opusenc", "textoverlay", "avdec_h264")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	loop := testLoop(t, ctx, false)
	mix := startMix(t, MixSpec{Width: 320, Height: 180, FPS: 30, Points: 2}, MixSinks{})
	if err := mix.SetInput(0, pipeline.Video, InputFormatOf(loop.Video)); err != nil {
		t.Fatal(err)
	}
	fctx, stop := context.WithTimeout(ctx, 4*time.Second)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		feedLoop(fctx, mix, 0, loop)
	}()
	sizes := []MixTile{
		{W: 160, H: 90, Visible: true}, {W: 320, H: 180, Visible: true}, {W: 106, H: 60, Visible: true},
		{W: 200, H: 90, Visible: true}, {}, {W: 81, H: 45, Visible: true},
	}
	flips := 0
	for i := 0; fctx.Err() == nil; i++ {
		for p := range 2 {
			mix.SetTile(p, sizes[(i+p)%len(sizes)])
			mix.SetSlate(p, i%3 == p, "MẤT TÍN HIỆU")
		}
		flips++
		time.Sleep(time.Duration(1+i%7) * time.Millisecond)
		for _, ev := range mix.Poll() {
			if !ev.Warning {
				t.Fatalf("after %d flips: point %d %s: %v", flips, ev.Point, ev.Element, ev.Err)
			}
		}
	}
	wg.Wait()
	t.Logf("%d flips", flips)
	if _, n := mix.LastPicture(0); n < 30 {
		t.Errorf("point 0: %d pictures reached the compositor in 4 s", n)
	}
	for _, ev := range mix.Poll() {
		if !ev.Warning {
			t.Errorf("point %d %s: %v", ev.Point, ev.Element, ev.Err)
		}
	}
}
