package harness

import (
	"context"
	"fmt"
	"time"
)

// runSession: a whole live session: points camsim points composited and
// recorded, viewers WHEP viewers of the composite and one return feed
// (mix-minus) per point, and a new viewer of the composite that times its
// first frame and counts whole frames through the window.
func runSession(ctx context.Context, e *env, r *Run) error {
	o := e.opts
	r.Params.Points, r.Params.Viewers, r.Params.Audio = o.Points, o.Viewers, true
	r.Params.OutWidth, r.Params.OutHeight, r.Params.OutKbps = o.OutWidth, o.OutHeight, o.OutKbps
	cam, err := e.startCamsim(ctx, o.Points, true)
	if err != nil {
		return err
	}
	if e.server, err = e.startServer(ctx); err != nil {
		return err
	}
	if err := e.readInfo(ctx, r); err != nil {
		return err
	}
	ids, err := e.addSources(ctx, cam, o.Points)
	if err != nil {
		return err
	}
	sid, points, err := e.createSession(ctx, ids, true, "live", true)
	if err != nil {
		return err
	}
	if err := e.waitRecording(ctx, sid); err != nil {
		return err
	}
	api := e.server.API
	// Viewer i watches paths[i]: the composite viewers, then the returns.
	var paths []string
	for range o.Viewers {
		paths = append(paths, "/whep/sessions/"+sid)
	}
	for _, p := range points {
		paths = append(paths, "/whep/sessions/"+sid+"/points/"+p)
	}
	total := len(paths)
	e.progress("viewers: connecting %d (%d of the composite, %d return feeds)", total, o.Viewers, len(points))
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
	ref, err := dialWHEP(ctx, api.Base, "/whep/sessions/"+sid, api.Token, o.FPS)
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

	ss := &sessionSampler{api: api, id: sid}
	if err := ss.begin(ctx); err != nil {
		return err
	}
	in0 := e.ingest(ctx, ids)
	disk0, diskOK := e.serverDiskWrites()
	if err := lg.begin(); err != nil {
		return err
	}
	rc0 := ref.counts()
	ref.record(true)
	m := e.newMeter()
	win, samples, err := e.measure(ctx, m, func() uint64 { return ref.counts().frames }, func() string { return ss.sample(ctx) })
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
	disk1, _ := e.serverDiskWrites()
	ss.sample(ctx)
	in1 := e.ingest(ctx, ids)
	ss.fill(r, win)

	refFPS := float64(rc1.frames-rc0.frames) / rc1.at.Sub(rc0.at).Seconds()
	vf.ReferenceFPS = refFPS
	vf.Starved, vf.NoTracks, vf.Packets, vf.Bytes = ev.Starved, ev.NoTracks, ev.Packets, ev.Bytes
	if ev.WallSecond > 0 {
		vf.LoadGenCPU = ev.CPUSeconds / ev.WallSecond
		vf.MbpsEach = float64(ev.Bytes) * 8 / 1e6 / ev.WallSecond / float64(max(ev.Connected, 1))
	}
	if frames := rc1.frames - rc0.frames; frames > 0 && ev.WallSecond > 0 && ev.Connected > 0 {
		perFrame := float64(rc1.packets-rc0.packets) / float64(frames)
		video := float64(ev.Packets - min(ev.Audio, ev.Packets))
		r.DeliveredFPS = ptr(video / perFrame / float64(ev.Connected) / ev.WallSecond)
	} else {
		r.DeliveredFPS = ptr(refFPS)
	}
	worst := refFPS
	if ev.Starved > 0 {
		worst = 0
		r.fail("%d viewers got nothing in the window", ev.Starved)
	}
	r.DeliveredFPSMin = ptr(worst)
	r.OutputMissingFrames = ptr(rc1.missing - rc0.missing)
	r.RTPLost = ptr(ev.Lost + rc1.lost - rc0.lost)
	r.InputRTPLost = ptr(in1.lost - min(in0.lost, in1.lost))
	r.FrameIntervalMs = ref.intervalPercentiles()
	if diskOK {
		r.DiskWriteBytesPerS = ptr(float64(disk1-disk0) / win)
	}
	r.note("delivered fps: mean of the %d load viewers (composite and return feeds) from their video packets; worst: the new composite viewer's whole frames", ev.Connected)
	r.note("dropped frames: the mixer's count in the window; output_missing_frames: RTP timestamp gaps at the new viewer")
	r.note("the bench process runs the viewers: its CPU is the load generator's, not the server's")
	// The archive is read only for its frames; the session's verdict
	// above comes from the viewers and the mixer.
	archive := &Run{}
	if err := e.judgeArchive(ctx, archive, sid); err != nil {
		r.note("archive not read: %v", err)
	} else {
		r.ArchivedFPS = archive.ArchivedFPS
		if archive.DroppedFrames != nil && *archive.DroppedFrames > 0 {
			r.fail("%d frames missing in the archive", *archive.DroppedFrames)
		}
	}
	return nil
}
