package harness

import (
	"context"
	"time"
)

// runRelay: cameras × viewers of passthrough WHEP (POST /whep/sources/ID),
// the viewers run by bench/relay's load generator in this process, and one
// more viewer, joining last, counts whole frames and times its first. With
// StepViewers, more viewers join after the window and a second one
// measures the slope (relay_step.go).
func runRelay(ctx context.Context, e *env, r *Run) error {
	o := e.opts
	total := o.Cameras * o.Viewers
	r.Params.Cameras, r.Params.Viewers, r.Params.Audio = o.Cameras, o.Viewers, true
	// Audio on: the load generator's viewers wait for both tracks, as a
	// browser playing a camera with sound.
	_, ids, err := e.startSources(ctx, r, o.Cameras, true)
	if err != nil {
		return err
	}
	paths := make([]string, len(ids))
	for i, id := range ids {
		paths[i] = "/whep/sources/" + id
	}

	e.progress("viewers: connecting %d", total)
	vl, err := e.startViewers(ctx, r, paths, total, paths[0])
	if err != nil {
		return err
	}
	defer vl.close()

	if err := e.sleep(ctx, o.Warmup, "warming up"); err != nil {
		return err
	}
	in0 := e.ingest(ctx, ids)
	if err := vl.begin(); err != nil {
		return err
	}
	if _, err := e.window(ctx, r, vl.frames, nil); err != nil {
		return err
	}
	if err := vl.end(ctx); err != nil {
		return err
	}
	in1 := e.ingest(ctx, ids)

	vl.fill(r)
	r.DroppedFrames = ptr(*r.OutputMissingFrames)
	r.InputRTPLost = ptr(in1.lost - min(in0.lost, in1.lost))
	r.note("delivered fps: mean of the %d load viewers from their video packets (the reference viewer's packets per frame); worst: the reference viewer's whole frames (0 if a viewer starved)", vl.ev.Connected)
	r.note("dropped frames: RTP timestamp gaps at the reference viewer; the WHEP server does not publish per-viewer drops")
	r.note("latency: not measured for passthrough (no mixer)")
	r.note("the bench process runs the viewers: its CPU is the load generator's, not the server's")
	if o.StepViewers > 0 {
		return relayStep(ctx, e, r, paths, vl)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
