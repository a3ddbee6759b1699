package gst

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"diemcau/pipeline"
)

// TestMixPointsJoinAndLeave adds a point to a running composite, feeds it,
// removes it and a point that was there from the start, and adds one back
// into a freed slot: the composite never stops making pictures, a joined
// point's pictures reach the compositor and its mix-minus comes out, a
// removed one's stops, and nothing errors on the bus.
func TestMixPointsJoinAndLeave(t *testing.T) {
	needElements(t, "compositor", "audiomixer", "opusenc", "textoverlay", "avdec_h264")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	loop := testLoop(t, ctx, true)
	var mm [3]atomic.Int64
	mix := startMix(t, MixSpec{Width: 320, Height: 180, FPS: 30, Points: 2, Slots: 3}, MixSinks{
		MixMinus: func(p int, _ Sample) { mm[p].Add(1) },
	})

	tile := func(i int) { mix.SetTile(i, MixTile{X: i * 100, W: 100, H: 56, Z: 10, Visible: true}) }
	feed := func(point int, d time.Duration) {
		t.Helper()
		for _, k := range []pipeline.Kind{pipeline.Video, pipeline.Audio} {
			f := InputFormatOf(loop.Video)
			if k == pipeline.Audio {
				f = InputFormatOf(loop.Audio)
			}
			if err := mix.SetInput(point, k, f); err != nil {
				t.Fatal(err)
			}
		}
		fctx, stop := context.WithTimeout(ctx, d)
		defer stop()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			feedLoop(fctx, mix, point, loop)
		}()
		wg.Wait()
	}
	rawBefore := func() uint64 { n, _ := mix.RawCounts(); return n }
	steps := []struct {
		name string
		do   func(t *testing.T)
	}{
		{"add point 2 and feed it", func(t *testing.T) {
			if mix.HasPoint(2) {
				t.Fatal("slot 2 present before AddPoint")
			}
			if err := mix.AddPoint(2); err != nil {
				t.Fatal(err)
			}
			if err := mix.AddPoint(2); err == nil {
				t.Error("adding slot 2 twice: no error")
			}
			tile(2)
			mix.SetLabel(2, "Điểm cầu mới")
			before := mm[2].Load()
			feed(2, 2*time.Second)
			if _, n := mix.LastPicture(2); n < 15 {
				t.Errorf("joined point: %d pictures reached the compositor in 2 s", n)
			}
			if got := mm[2].Load() - before; got < 40 {
				t.Errorf("joined point's mix-minus: %d frames in 2 s, want about 100", got)
			}
		}},
		{"remove it", func(t *testing.T) {
			mix.RemovePoint(2)
			if mix.HasPoint(2) {
				t.Fatal("slot 2 still present")
			}
			time.Sleep(200 * time.Millisecond) // what was in flight
			before := mm[2].Load()
			time.Sleep(time.Second)
			if got := mm[2].Load() - before; got != 0 {
				t.Errorf("removed point's mix-minus: %d frames after removal", got)
			}
		}},
		{"remove a point from the start", func(t *testing.T) {
			mix.RemovePoint(0)
			before := mm[1].Load()
			time.Sleep(time.Second)
			if got := mm[1].Load() - before; got < 20 {
				t.Errorf("remaining point's mix-minus: %d frames in 1 s", got)
			}
		}},
		{"a mix-minus nobody listens to is not encoded", func(t *testing.T) {
			mix.SetMixMinusListened(1, false)
			time.Sleep(200 * time.Millisecond) // what was in flight
			before := mm[1].Load()
			time.Sleep(time.Second)
			if got := mm[1].Load() - before; got != 0 {
				t.Errorf("unheard mix-minus: %d frames in 1 s", got)
			}
			mix.SetMixMinusListened(1, true)
			before = mm[1].Load()
			time.Sleep(time.Second)
			if got := mm[1].Load() - before; got < 20 {
				t.Errorf("heard again: %d frames in 1 s", got)
			}
		}},
		{"reuse a freed slot", func(t *testing.T) {
			if err := mix.AddPoint(0); err != nil {
				t.Fatal(err)
			}
			tile(0)
			feed(0, 2*time.Second)
			if _, n := mix.LastPicture(0); n < 15 {
				t.Errorf("re-added point: %d pictures", n)
			}
		}},
		{"out of range", func(t *testing.T) {
			if err := mix.AddPoint(3); err == nil {
				t.Error("slot 3 of 3: no error")
			}
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			raw := rawBefore()
			st.do(t)
			time.Sleep(200 * time.Millisecond)
			if rawBefore() <= raw {
				t.Errorf("the composite made no picture during %q", st.name)
			}
			for _, ev := range mix.Poll() {
				if !ev.Warning {
					t.Errorf("bus: point %d %s: %v", ev.Point, ev.Element, ev.Err)
				}
			}
		})
	}
}
