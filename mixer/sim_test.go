package mixer

import (
	"context"
	"sync"
	"testing"
	"time"

	"diemcau/ingest"
	"diemcau/ingest/sim"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// TestSimSources mixes two of the server's own sim:// sources (their tone
// comes from their name): both pictures arrive, and each point's return
// feed carries the other's tone and not its own.
func TestSimSources(t *testing.T) {
	needTools(t, "x264enc", "compositor", "audiomixer", "opusenc", "opusdec")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var srcs []*sim.Source
	for _, name := range []string{"tinh", "xa-a"} {
		s, err := sim.New(sim.Config{ID: name, URL: "sim://" + name, Name: name,
			Width: 320, Height: 180, FPS: 30, BitrateKbps: 300, Audio: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, s)
	}
	m, err := New(Config{Session: "sim", Output: Output{Width: testW, Height: testH, FPS: testFPS, BitrateKbps: 300},
		Layout: Speaker, Points: []Point{
			{ID: "tinh", Label: "UBND Tỉnh", Stream: srcs[0].Stream()},
			{ID: "xa-a", Label: "UBND xã A", Stream: srcs[1].Stream()},
		}}, testkit.Logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, s := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(ctx); err != nil {
				t.Errorf("sim %s: %v", s.ID(), err)
			}
		}()
	}
	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
		cancel()
		wg.Wait()
	}()

	testkit.WaitFor(t, ctx, "both points live with pictures", func() bool {
		p := m.Stats().Points
		return p[0].Live && p[1].Live && p[0].Pictures > 30 && p[1].Pictures > 30
	})
	cctx, stopCollect := context.WithCancel(ctx)
	var cwg sync.WaitGroup
	ret := []*collector{collect(cctx, &cwg, m.ReturnFeed("tinh")), collect(cctx, &cwg, m.ReturnFeed("xa-a"))}
	time.Sleep(2 * time.Second)
	stopCollect()
	cwg.Wait()
	tones := []float64{ingest.SimToneHz("tinh"), ingest.SimToneHz("xa-a")}
	for i, c := range ret {
		pcm := decodeOpus(t, c.snapshot(pipeline.Audio))
		own, other := goertzel(pcm, 48000, tones[i]), goertzel(pcm, 48000, tones[1-i])
		t.Logf("return feed of point %d: own %.0f Hz %.4f, other %.0f Hz %.4f", i, tones[i], own, tones[1-i], other)
		if other < 0.005 || own > other/50 {
			t.Errorf("point %d's return feed: own tone %.4f, other's %.4f", i, own, other)
		}
	}
}
