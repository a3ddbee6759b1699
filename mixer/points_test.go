package mixer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// TestPointsJoinAndLeave changes who takes part in a running composite:
// a point joins (its picture takes its place in the grid, its return feed
// has the others' sound and not its own), a point that was there from the
// start leaves (the grid closes up, its return feed ends), a point with no
// signal joins and shows its slate — and across all of it the composite
// never pauses and its encoder never restarts.
func TestPointsJoinAndLeave(t *testing.T) {
	needTools(t, "x264enc", "compositor", "audiomixer", "opusenc", "textoverlay")
	loops := encodeLoops(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cams := make([]*camera, 4)
	for i, l := range loops {
		cams[i] = newCamera(fmt.Sprintf("cam%d", i), l)
	}
	s := startSession(t, ctx, cams[:2], func(c *Config) { c.MaxPoints = 4 })
	defer s.stop(t)
	var camsWG sync.WaitGroup
	defer camsWG.Wait()
	camCtx, stopCams := context.WithCancel(ctx)
	defer stopCams()
	for _, c := range cams[2:] {
		camsWG.Add(1)
		go func() {
			defer camsWG.Done()
			c.run(camCtx)
		}()
	}
	testkit.WaitFor(t, ctx, "both points live", func() bool { return s.allLive(2) })
	s.waitFrames(t, ctx, 10)
	from := s.lastPTS()
	track := s.videoSince(0)[0].Track

	// tiles checks the newest picture: want[i] is the camera on the i-th
	// tile of a grid, -1 for a slate.
	tiles := func(t *testing.T, want ...int) {
		t.Helper()
		pix := picture(t, s.outputs.snapshot(pipeline.Video), testW, testH)
		for i, tile := range Arrange(Grid, len(want), 0, testW, testH) {
			x, y := tileProbe(tile.Rect)
			exp := slateRGB()
			if want[i] >= 0 {
				exp = testPatterns[want[i]].rgb
			}
			if got := meanRGB(pix, testW, x, y); colourDistance(got, exp) > 60 {
				t.Errorf("tile %d at (%d,%d): %s, want about %s", i, x, y, fmtRGB(got), fmtRGB(exp))
			}
		}
	}
	ids := func() []string {
		var out []string
		for _, p := range s.mixer.Stats().Points {
			out = append(out, p.ID)
		}
		return out
	}

	t.Run("a point joins", func(t *testing.T) {
		if err := s.mixer.AddPoint(Point{ID: "p2", Label: "Điểm cầu mới", Stream: cams[2].stream}); err != nil {
			t.Fatal(err)
		}
		if s.mixer.ReturnFeed("p2") == nil {
			t.Fatal("no return feed right after AddPoint")
		}
		testkit.WaitFor(t, ctx, "p2 live", func() bool { return s.allLive(3) })
		s.waitFrames(t, ctx, 10)
		tiles(t, 0, 1, 2)

		// Its return feed: the others' tones, not its own.
		cctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		ret := collect(cctx, &wg, s.mixer.ReturnFeed("p2"))
		time.Sleep(2 * time.Second)
		stop()
		wg.Wait()
		mm := decodeOpus(t, ret.snapshot(pipeline.Audio))
		own, other := goertzel(mm, 48000, testTones[2]), goertzel(mm, 48000, testTones[0])
		t.Logf("p2's mix-minus: own %.4f, p0's %.4f", own, other)
		if other < 0.005 || own > other/50 {
			t.Errorf("p2's mix-minus has its own tone at %.4f and p0's at %.4f", own, other)
		}
	})

	t.Run("a point from the start leaves", func(t *testing.T) {
		old := s.mixer.ReturnFeed("p0")
		r := old.NewReader(pipeline.ReaderConfig{Name: "test/p0-return"})
		defer r.Close()
		if err := s.mixer.RemovePoint("p0"); err != nil {
			t.Fatal(err)
		}
		if s.mixer.ReturnFeed("p0") != nil {
			t.Error("p0 still has a return feed")
		}
		rctx, stop := context.WithTimeout(ctx, 10*time.Second)
		defer stop()
		for {
			if _, err := r.Read(rctx); err != nil {
				if !errors.Is(err, pipeline.ErrStreamClosed) {
					t.Errorf("p0's return feed: %v, want it closed", err)
				}
				break
			}
		}
		testkit.WaitFor(t, ctx, "p0 gone from the stats", func() bool { return slices.Equal(ids(), []string{"p1", "p2"}) })
		s.waitFrames(t, ctx, 10)
		tiles(t, 1, 2)
	})

	t.Run("a point without signal joins and shows its slate", func(t *testing.T) {
		cams[3].dead.Store(true)
		if err := s.mixer.AddPoint(Point{ID: "p3", Stream: cams[3].stream}); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, ctx, "p3 in the stats", func() bool { return slices.Equal(ids(), []string{"p1", "p2", "p3"}) })
		time.Sleep(1500 * time.Millisecond) // the slate goes up after 1 s
		s.waitFrames(t, ctx, 10)
		tiles(t, 1, 2, -1)
		cams[3].dead.Store(false)
		testkit.WaitFor(t, ctx, "p3 live", func() bool { return s.allLive(3) })
		s.waitFrames(t, ctx, 10)
		tiles(t, 1, 2, 3)
	})

	t.Run("bad changes are refused", func(t *testing.T) {
		for _, c := range []struct {
			name string
			err  error
			want string
		}{
			{"same id twice", s.mixer.AddPoint(Point{ID: "p1", Stream: cams[0].stream}), "id:"},
			{"bad id", s.mixer.AddPoint(Point{ID: "Xã 1", Stream: cams[0].stream}), "id:"},
			{"no stream", s.mixer.AddPoint(Point{ID: "p9"}), "stream:"},
			{"bad gain", s.mixer.AddPoint(Point{ID: "p9", Stream: cams[0].stream, Gain: 11}), "gain:"},
		} {
			if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
				t.Errorf("%s: %v, want an error naming %q", c.name, c.err, c.want)
			}
		}
		if err := s.mixer.RemovePoint("nobody"); !errors.Is(err, ErrUnknownPoint) {
			t.Errorf("removing an unknown point: %v", err)
		}
		// p0 comes back into its freed slot; then all four are taken.
		if err := s.mixer.AddPoint(Point{ID: "p0", Stream: cams[0].stream}); err != nil {
			t.Fatalf("p0 back: %v", err)
		}
		if err := s.mixer.AddPoint(Point{ID: "p5", Stream: cams[0].stream}); !errors.Is(err, ErrFull) {
			t.Errorf("a fifth point in four slots: %v", err)
		}
		for _, id := range []string{"p0", "p1", "p2"} {
			if err := s.mixer.RemovePoint(id); err != nil {
				t.Fatalf("remove %s: %v", id, err)
			}
		}
		if err := s.mixer.RemovePoint("p3"); err == nil {
			t.Error("removing the last point: no error")
		}
		testkit.WaitFor(t, ctx, "only p3 left", func() bool { return slices.Equal(ids(), []string{"p3"}) })
		s.waitFrames(t, ctx, 10)
		tiles(t, 3)
	})

	v := s.videoSince(from)
	if gap := maxGap(v); gap > stallGap {
		t.Errorf("the composite paused %v while points came and went", gap)
	}
	for _, f := range v {
		if f.Track != track {
			t.Fatal("the video track changed: the encoder restarted")
		}
	}
}

// allLive reports whether the composite has n points, all with pictures.
func (s *session) allLive(n int) bool {
	p := s.mixer.Stats().Points
	if len(p) != n {
		return false
	}
	for _, x := range p {
		if !x.Live || x.Pictures == 0 {
			return false
		}
	}
	return true
}
