package mixer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// TestSubStream: a camera sends its picture twice, main 640x360 in red and
// a sub-stream 320x180 in blue (two test pictures, so a tile's colour says
// which one it decodes). In a 640x360 grid of four its tile is 320x180 and
// shows the sub-stream; made the focus of speaker its tile grows and shows
// the main stream; back in the grid, the sub-stream again. Each switch
// waits for a keyframe of the new feed while the old one goes on: the
// tile never shows the slate or black, and the step between the last
// picture of one feed and the first of the other is within about a frame
// either way (the two feeds' pacers differ by a few milliseconds).
func TestSubStream(t *testing.T) {
	needTools(t, "x264enc", "compositor", "audiomixer", "opusenc", "textoverlay")
	const outW, outH = 640, 360
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	encode := func(w, h int, pattern string, audio gst.AudioCodec) *gst.Loop {
		l, err := gst.EncodeLoop(ctx, gst.LoopConfig{
			TestPicture: gst.TestPicture{Width: w, Height: h, FPS: 30, Pattern: pattern},
			BitrateKbps: 300, Audio: audio,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	red, blue := [3]int{255, 0, 0}, [3]int{0, 0, 255}
	main := newCamera("cam0", encode(640, 360, "red", gst.AudioOpus))
	sub := newCamera("cam0/sub", encode(320, 180, "blue", gst.AudioNone))
	cams := []*camera{main}
	for i, l := range encodeLoops(t, 3) {
		cams = append(cams, newCamera(fmt.Sprintf("cam%d", i+1), l))
	}
	s := startSession(t, ctx, cams, func(c *Config) {
		c.Output = Output{Width: outW, Height: outH, FPS: testFPS, BitrateKbps: 600}
		c.Points[0].Sub = sub.stream
	})
	subCtx, subCancel := context.WithCancel(ctx)
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		sub.run(subCtx)
	}()
	defer func() { subCancel(); <-subDone }()
	defer s.stop(t)

	point0 := func() PointStats { return s.mixer.Stats().Points[0] }
	// probe is a spot inside point 0's tile in the grid and in speaker,
	// clear of its label and the clock.
	grid := Arrange(Grid, 4, 0, outW, outH)[0].Rect
	speaker := Arrange(Speaker, 4, 0, outW, outH)[0].Rect
	px, py := tileProbe(grid)
	if !speaker.Contains(px, py) {
		t.Fatalf("probe (%d,%d) outside the speaker tile %v", px, py, speaker)
	}
	tileColour := func() [3]int {
		return meanRGB(picture(t, s.outputs.snapshot(pipeline.Video), outW, outH), outW, px, py)
	}
	expect := func(what string, want [3]int) {
		t.Helper()
		if got := tileColour(); colourDistance(got, want) > 60 {
			t.Errorf("%s: point 0's tile is %s, want about %s", what, fmtRGB(got), fmtRGB(want))
		}
	}

	testkit.WaitFor(t, ctx, "point 0 on its sub-stream in the grid", func() bool { return point0().Feed == "sub" })
	s.waitFrames(t, ctx, 10)
	expect("grid", blue)

	// othersLost counts the slates of the points that do not switch: when
	// they go up during the switches, the whole machine stalled (a CI run
	// starved every point for a second mid-switch) and the attempt says
	// nothing about the switch, so it is run again.
	othersLost := func() uint64 {
		var n uint64
		for _, p := range s.mixer.Stats().Points[1:] {
			n += p.Losses
		}
		return n
	}
	const attempts = 3
	for attempt := 1; ; attempt++ {
		lostBefore := othersLost()
		problems := switchBackAndForth(t, ctx, s, point0, px, py, outW, outH, red, blue)
		stalled := othersLost() > lostBefore
		if len(problems) == 0 || !stalled || attempt == attempts {
			for _, p := range problems {
				t.Error(p)
			}
			if stalled && len(problems) > 0 {
				t.Logf("the other points lost their signal too in every one of %d attempts", attempts)
			}
			break
		}
		t.Logf("attempt %d: the machine stalled (the other points lost their signal too), run again: %v", attempt, problems)
	}
}

// switchBackAndForth makes point 0 the focus of speaker (main stream, red)
// and goes back to the grid (sub-stream, blue), and returns what went
// wrong: a step of more than about a frame at a switch, a tile of another
// colour, the signal lost, a gap in the composite.
func switchBackAndForth(t *testing.T, ctx context.Context, s *session, point0 func() PointStats, px, py, outW, outH int, red, blue [3]int) []string {
	t.Helper()
	var problems []string
	from := s.lastPTS()
	switches := []struct {
		layout Layout
		feed   string
		colour [3]int
	}{{Speaker, "main", red}, {Grid, "sub", blue}}
	for _, sw := range switches {
		before := point0().FeedSwitches
		if err := s.mixer.SetLayout(sw.layout, "p0"); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, ctx, fmt.Sprintf("point 0 on its %s stream in %s", sw.feed, sw.layout), func() bool {
			p := point0()
			return p.Feed == sw.feed && p.FeedSwitches == before+1
		})
		p := point0()
		t.Logf("%s: %s stream, switch step %v", sw.layout, p.Feed, p.FeedSwitchGap)
		if p.FeedSwitchGap < -100*time.Millisecond || p.FeedSwitchGap > 100*time.Millisecond {
			problems = append(problems, fmt.Sprintf("%s: the switch stepped %v on the mix's timeline, want about one frame (no hole)", sw.layout, p.FeedSwitchGap))
		}
		// The new feed shows once the composite's own delay has passed: a
		// few frames, more on a loaded machine.
		var got [3]int
		for deadline := time.Now().Add(3 * time.Second); ; {
			s.waitFrames(t, ctx, 5)
			got = meanRGB(picture(t, s.outputs.snapshot(pipeline.Video), outW, outH), outW, px, py)
			if colourDistance(got, sw.colour) <= 60 || time.Now().After(deadline) {
				break
			}
		}
		if colourDistance(got, sw.colour) > 60 {
			problems = append(problems, fmt.Sprintf("%s: point 0's tile is %s 3 s after the switch, want about %s", sw.layout, fmtRGB(got), fmtRGB(sw.colour)))
		}
	}
	if p := point0(); !p.Live {
		problems = append(problems, fmt.Sprintf("point 0 lost its signal across the switches: %+v", p))
	}

	// Every composite picture across both switches shows point 0's own
	// picture, red or blue: never its slate, never black.
	pics := pictures(t, s.outputs.snapshot(pipeline.Video), from, outW, outH)
	var reds, blues int
	for i, pix := range pics {
		c := meanRGB(pix, outW, px, py)
		switch {
		case colourDistance(c, red) < 80:
			reds++
		case colourDistance(c, blue) < 80:
			blues++
		default:
			return append(problems, fmt.Sprintf("picture %d of %d across the switches: point 0's tile is %s, neither its main (red) nor its sub-stream (blue)", i, len(pics), fmtRGB(c)))
		}
	}
	t.Logf("%d pictures across the switches: %d main, %d sub", len(pics), reds, blues)
	if reds == 0 || blues == 0 {
		problems = append(problems, fmt.Sprintf("%d red and %d blue pictures, want both", reds, blues))
	}
	if gap := maxGap(s.videoSince(from)); gap > switchGap {
		problems = append(problems, fmt.Sprintf("gap of %v in the composite across the switches", gap))
	}
	return problems
}
