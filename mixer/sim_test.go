package mixer

import (
	"context"
	"sync"
	"testing"
	"time"

	"diemcau/ingest"
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
	srcs := startSims(t, simPoint{"tinh", true}, simPoint{"xa-a", true})
	m, err := New(Config{Session: "sim", Output: Output{Width: testW, Height: testH, FPS: testFPS, BitrateKbps: 300},
		Layout: Speaker, Points: []Point{
			{ID: "tinh", Label: "UBND Tỉnh", Stream: srcs[0].Stream()},
			{ID: "xa-a", Label: "UBND xã A", Stream: srcs[1].Stream()},
		}}, testkit.Logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "mixer", m.Run)

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
