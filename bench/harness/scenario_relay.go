package harness

import (
	"context"
	"fmt"
	"time"
)

// runRelay: cameras × viewers of passthrough WHEP (POST /whep/sources/ID),
// the viewers run by bench/relay's load generator in this process, and one
// more viewer, joining last, counts whole frames and times its first.
func runRelay(ctx context.Context, e *env, r *Run) error {
	o := e.opts
	total := o.Cameras * o.Viewers
	r.Params.Cameras, r.Params.Viewers, r.Params.Audio = o.Cameras, o.Viewers, true
	// Audio on: the load generator's viewers wait for both tracks, as a
	// browser playing a camera with sound.
	cam, err := e.startCamsim(ctx, o.Cameras, true)
	if err != nil {
		return err
	}
	if e.server, err = e.startServer(ctx); err != nil {
		return err
	}
	if err := e.readInfo(ctx, r); err != nil {
		return err
	}
	ids, err := e.addSources(ctx, cam, o.Cameras)
	if err != nil {
		return err
	}
	paths := make([]string, len(ids))
	for i, id := range ids {
		paths[i] = "/whep/sources/" + id
	}
	api := e.server.API

	e.progress("viewers: connecting %d", total)
	t0 := time.Now()
	lg, ready, err := startLoadGen(ctx, api.Base, api.Token, paths, total)
	if err != nil {
		return err
	}
	defer lg.close()
	vf := &ViewerFigures{Total: total, Connected: ready.Connected, ConnectS: time.Since(t0).Seconds()}
	r.Viewers = vf
	if ready.Failed > 0 {
		r.fail("%d of %d viewers did not connect (first error: %s)", ready.Failed, total, ready.Error)
	}
	if ready.Connected == 0 {
		return fmt.Errorf("no viewer connected: %s", ready.Error)
	}

	e.progress("new viewer: timing its first frame")
	ref, err := dialWHEP(ctx, api.Base, paths[0], api.Token, o.FPS)
	if err != nil {
		return fmt.Errorf("reference viewer: %w", err)
	}
	defer ref.close()
	ff, err := ref.waitFirstFrame(ctx, 30*time.Second)
	if err != nil {
		return err
	}
	r.FirstFrameMs = ptr(ms(ff))

	if err := e.sleep(ctx, o.Warmup, "warming up"); err != nil {
		return err
	}
	m := e.newMeter()
	in0 := e.ingest(ctx, ids)
	if err := lg.begin(); err != nil {
		return err
	}
	rc0 := ref.counts()
	ref.record(true)
	win, samples, err := e.measure(ctx, m, func() uint64 { return ref.counts().frames }, nil)
	r.WindowS, r.Samples = win, samples
	if err != nil {
		return err
	}
	r.endWindow(m.end(ctx))
	rc1 := ref.counts()
	ref.record(false)
	ev, err := lg.end(ctx)
	if err != nil {
		return err
	}
	in1 := e.ingest(ctx, ids)

	refSecs := rc1.at.Sub(rc0.at).Seconds()
	refFPS := float64(rc1.frames-rc0.frames) / refSecs
	vf.ReferenceFPS = refFPS
	vf.Starved, vf.NoTracks, vf.Packets, vf.Bytes = ev.Starved, ev.NoTracks, ev.Packets, ev.Bytes
	if ev.WallSecond > 0 {
		vf.LoadGenCPU = ev.CPUSeconds / ev.WallSecond
		vf.MbpsEach = float64(ev.Bytes) * 8 / 1e6 / ev.WallSecond / float64(max(ev.Connected, 1))
	}
	// The load viewers count packets, not frames: every viewer of a camera
	// gets the same packets, so the reference viewer's packets per frame
	// turns their video packets into frames.
	if frames := rc1.frames - rc0.frames; frames > 0 && ev.WallSecond > 0 && ev.Connected > 0 {
		perFrame := float64(rc1.packets-rc0.packets) / float64(frames)
		video := float64(ev.Packets - min(ev.Audio, ev.Packets))
		r.DeliveredFPS = ptr(video / perFrame / float64(ev.Connected) / ev.WallSecond)
	}
	worst := refFPS
	if ev.Starved > 0 {
		worst = 0
		r.fail("%d viewers got nothing in the window", ev.Starved)
	}
	r.DeliveredFPSMin = ptr(worst)
	r.DroppedFrames = ptr(rc1.missing - rc0.missing)
	r.OutputMissingFrames = ptr(rc1.missing - rc0.missing)
	r.RTPLost = ptr(ev.Lost + rc1.lost - rc0.lost)
	r.InputRTPLost = ptr(in1.lost - min(in0.lost, in1.lost))
	r.FrameIntervalMs = ref.intervalPercentiles()
	r.note("delivered fps: mean of the %d load viewers from their video packets (the reference viewer's packets per frame); worst: the reference viewer's whole frames (0 if a viewer starved)", ev.Connected)
	r.note("dropped frames: RTP timestamp gaps at the reference viewer; the WHEP server does not publish per-viewer drops")
	r.note("latency: not measured for passthrough (no mixer)")
	r.note("the bench process runs the viewers: its CPU is the load generator's, not the server's")
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
