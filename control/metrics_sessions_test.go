package control

import (
	"context"
	"testing"
	"time"

	"diemcau/control/sessions"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// statsComposite is a running composite that only reports figures.
type statsComposite struct {
	stream *pipeline.Stream
	stats  sessions.CompositeStats
}

func (c *statsComposite) Run(ctx context.Context) error                   { <-ctx.Done(); return nil }
func (c *statsComposite) Composite() *pipeline.Stream                     { return c.stream }
func (c *statsComposite) Archive() *pipeline.Stream                       { return c.stream }
func (c *statsComposite) ReturnFeed(string) *pipeline.Stream              { return nil }
func (c *statsComposite) SetLayout(string, string) error                  { return nil }
func (c *statsComposite) SetPoint(sessions.Point) error                   { return nil }
func (c *statsComposite) AddPoint(sessions.Point, *pipeline.Stream) error { return nil }
func (c *statsComposite) RemovePoint(string) error                        { return nil }
func (c *statsComposite) Reorder([]string) error                          { return nil }
func (c *statsComposite) Stats() sessions.CompositeStats                  { return c.stats }

// TestMetricsExposeMixer scrapes a running session's mixer figures,
// fallbacks and timeline corrections included.
func TestMetricsExposeMixer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := openStore(t, ctx, "tinh")
	sess := createSession(t, ctx, st, "phien", "tinh")
	comp := &statsComposite{stream: pipeline.NewStream("c"), stats: sessions.CompositeStats{
		FPS: 30, Encoder: "x264enc", Dropped: 3, EncoderRestarts: 1, DecoderRestarts: 2, TimeSteps: 4, LatencyP95Ms: 20,
	}}
	mgr := runSessions(t, composingOn(comp))
	if err := mgr.Start(SpecOf(sess), sessions.StateRehearsal); err != nil {
		t.Fatal(err)
	}
	base := startServer(t, Deps{Sources: fakeSources{}, Store: st, Sessions: mgr})
	raw := testkit.Scrape(t, base)
	wantMetrics(t, raw,
		`diemcau_mixer_fps{encoder="x264enc",session="phien"} 30`,
		`diemcau_mixer_dropped_frames_total{session="phien"} 3`,
		`diemcau_mixer_codec_fallbacks_total{codec="encoder",session="phien"} 1`,
		`diemcau_mixer_codec_fallbacks_total{codec="decoder",session="phien"} 2`,
		`diemcau_mixer_time_steps_total{session="phien"} 4`,
		`diemcau_mixer_latency_seconds{quantile="0.95",session="phien"} 0.02`,
	)
}
