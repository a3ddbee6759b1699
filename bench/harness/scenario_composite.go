package harness

import (
	"context"
	"time"
)

// runComposite: inputs camsim cameras → one session's composite (a
// rehearsal: nothing recorded), read at the output as a hardware decoder
// at a point would (RTSP /sessions/ID), with the mixer's own figures; then
// the bare gst-launch pipeline of the same elements on the same cameras.
func runComposite(ctx context.Context, e *env, r *Run) error {
	o := e.opts
	r.Params.Inputs, r.Params.OutWidth, r.Params.OutHeight, r.Params.OutKbps = o.Inputs, o.OutWidth, o.OutHeight, o.OutKbps
	if o.Sub {
		return runCompositeSub(ctx, e, r)
	}
	// No audio from the cameras: the server still mixes and encodes the
	// silence of every point, and the bare audio line does the same.
	cam, ids, err := e.startSources(ctx, r, o.Inputs, false)
	if err != nil {
		return err
	}
	sid, _, err := e.createSession(ctx, ids, false, "rehearsal", true)
	if err != nil {
		return err
	}
	out, err := e.measureOutput(ctx, r, ids, sid)
	if err != nil {
		return err
	}
	if o.NoBaseline {
		r.note("baseline skipped (--no-baseline)")
		return nil
	}
	// The composite stops so the bare pipeline has the machine as ours had
	// it: camsim, and the server only reading its cameras.
	out.close()
	if err := e.server.API.StopSession(ctx, sid); err != nil {
		return err
	}
	bl, err := e.runBaseline(ctx, cam, o.Inputs, r.Decoder, r.Encoder)
	if err != nil {
		r.note("baseline failed: %v", err)
		return nil
	}
	if r.ServerCPU != nil && bl.CPU > 0 {
		bl.CPURatio = *r.ServerCPU / bl.CPU
		bl.FairCPURatio = *r.ServerCPU / (bl.CPU + bl.AudioCPU)
	}
	r.Baseline = bl
	return nil
}

// measureOutput reads the composite over RTSP through warm-up and the
// window, sampling the session's mixer each second, and files the figures.
// The reader is returned open so a caller can keep it; it is closed when
// the run ends in any case.
func (e *env) measureOutput(ctx context.Context, r *Run, ids []string, sid string) (*rtspReader, error) {
	o := e.opts
	url := e.server.RTSP + "/sessions/" + sid
	rd := &rtspReader{url: url, user: e.server.RTSPUser, pass: e.server.RTSPPass, frameTally: frameTally{name: "rtsp " + url, frameTicks: uint32(90000 / o.FPS)}}
	e.closers = append(e.closers, rd.close)
	if err := rd.start(); err != nil {
		return nil, err
	}
	ff, err := rd.waitFirstFrame(ctx, 30*time.Second)
	if err != nil {
		return nil, err
	}
	r.FirstFrameMs = ptr(ms(ff))
	if err := e.sleep(ctx, o.Warmup, "warming up"); err != nil {
		return nil, err
	}
	ss := &sessionSampler{api: e.server.API, id: sid}
	in0 := e.ingest(ctx, ids)
	met0, _ := e.server.API.Metrics(ctx)
	if err := ss.begin(ctx); err != nil {
		return nil, err
	}
	c0 := rd.counts()
	rd.record(true)
	win, err := e.window(ctx, r, func() uint64 { return rd.counts().frames }, func() string { return ss.sample(ctx) })
	if err != nil {
		return nil, err
	}
	c1 := rd.counts()
	rd.record(false)
	ss.sample(ctx)
	met1, _ := e.server.API.Metrics(ctx)
	in1 := e.ingest(ctx, ids)

	fps := float64(c1.frames-c0.frames) / c1.at.Sub(c0.at).Seconds()
	r.DeliveredFPS, r.DeliveredFPSMin = ptr(fps), ptr(fps)
	r.RTPLost = ptr(c1.lost - c0.lost)
	r.OutputMissingFrames = ptr(c1.missing - c0.missing)
	r.InputRTPLost = ptr(in1.lost - min(in0.lost, in1.lost))
	r.FrameIntervalMs = rd.intervalPercentiles()
	ss.fill(r, win)
	const cpuMetric = "diemcau_process_cpu_seconds_total"
	if a, ok := met0[cpuMetric]; ok {
		if b, ok := met1[cpuMetric]; ok {
			r.note("server CPU by its own /metrics over the window: %.2f cores", (b-a)/win)
		}
	}
	r.note("delivered fps: whole H.264 frames read at rtsp …/sessions/%s", sid)
	return rd, nil
}
