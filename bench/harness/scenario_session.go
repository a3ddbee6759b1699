package harness

import (
	"context"
	"path/filepath"
	"strings"

	"diemcau/ingest/avsync"
)

// runSession: a whole live session: points camsim points composited and
// recorded, viewers WHEP viewers of the composite and one return feed
// (mix-minus) per point, and a new viewer of the composite that times its
// first frame and counts whole frames through the window.
func runSession(ctx context.Context, e *env, r *Run) error {
	o := e.opts
	r.Params.Points, r.Params.Viewers, r.Params.Audio = o.Points, o.Viewers, true
	r.Params.OutWidth, r.Params.OutHeight, r.Params.OutKbps = o.OutWidth, o.OutHeight, o.OutKbps
	e.pattern = true // flashes and beeps time the latency and the lip sync
	_, ids, err := e.startSources(ctx, r, o.Points, true)
	if err != nil {
		return err
	}
	sid, points, err := e.startLiveSession(ctx, ids, true)
	if err != nil {
		return err
	}
	// Viewer i watches paths[i]: the composite viewers, then the returns.
	var paths []string
	for range o.Viewers {
		paths = append(paths, "/whep/sessions/"+sid)
	}
	for _, p := range points {
		paths = append(paths, "/whep/sessions/"+sid+"/points/"+p)
	}
	e.progress("viewers: connecting %d (%d of the composite, %d return feeds)", len(paths), o.Viewers, len(points))
	vl, err := e.startViewers(ctx, r, paths, len(paths), "/whep/sessions/"+sid)
	if err != nil {
		return err
	}
	defer vl.close()
	fl, err := e.startFlashViewers(ctx, sid, ids[0])
	if err != nil {
		return err
	}
	defer fl.close()
	if err := e.sleep(ctx, o.Warmup, "warming up"); err != nil {
		return err
	}

	ss := &sessionSampler{api: e.server.API, id: sid}
	if err := ss.begin(ctx); err != nil {
		return err
	}
	in0 := e.ingest(ctx, ids)
	disk0, diskOK := e.serverDiskWrites()
	if err := vl.begin(); err != nil {
		return err
	}
	fl.record(true)
	win, err := e.window(ctx, r, vl.frames, func() string { return ss.sample(ctx) })
	fl.record(false)
	if err != nil {
		return err
	}
	if err := vl.end(ctx); err != nil {
		return err
	}
	disk1, _ := e.serverDiskWrites()
	ss.sample(ctx)
	in1 := e.ingest(ctx, ids)
	ss.fill(r, win)

	vl.fill(r)
	if r.DeliveredFPS == nil {
		r.DeliveredFPS = ptr(vl.vf.ReferenceFPS)
	}
	r.InputRTPLost = ptr(in1.lost - min(in0.lost, in1.lost))
	if diskOK {
		r.DiskWriteBytesPerS = ptr(float64(disk1-disk0) / win)
	}
	r.note("delivered fps: mean of the %d load viewers (composite and return feeds) from their video packets; worst: the new composite viewer's whole frames", vl.ev.Connected)
	r.note("dropped frames: the mixer's count in the window; output_missing_frames: RTP timestamp gaps at the new viewer")
	r.note("the bench process runs the viewers: its CPU is the load generator's, not the server's")
	r.AV = measureAV(ctx, e.dir, e.liveAVTargets(sid, points), o.AVSeconds, e.progress)
	// The archive is read only for its frames; the session's verdict
	// above comes from the viewers and the mixer.
	st, _ := e.server.API.Session(ctx, sid)
	if o.Low != "" {
		var moves uint64
		for _, v := range st.ViewerList {
			moves += v.Moves
		}
		r.Renditions, r.RenditionMoves = st.Renditions, &moves
		r.note("low rendition %s: viewers per rendition %v at the end, %d moves between renditions (loopback viewers lose nothing, so all stay on main; the figures carry the low encoder's cost)", o.Low, st.Renditions, moves)
	}
	archive := &Run{}
	if err := e.judgeArchive(ctx, archive, sid); err != nil {
		r.note("archive not read: %v", err)
	} else {
		r.ArchivedFPS = archive.ArchivedFPS
		if archive.DroppedFrames != nil && *archive.DroppedFrames > 0 {
			r.fail("%d frames missing in the archive", *archive.DroppedFrames)
		}
		if e.server.ArchiveRoot != "" && st.Recording.Run != "" {
			targets, err := e.archivedAVTargets(filepath.Join(e.server.ArchiveRoot, filepath.FromSlash(st.Recording.Run)), ids[0], len(points))
			if err != nil {
				r.note("A/V of the archive not measured: %v", err)
			} else {
				r.AV = append(r.AV, measureAV(ctx, e.dir, targets, 0, e.progress)...)
			}
		}
	}
	for _, a := range r.AV {
		if a.Verdict != avsync.Pass {
			r.note("A/V %s fails: %s%s", a.Output, strings.Join(a.Reasons, "; "), a.Error)
		}
	}
	e.progress("latency: decoding what the flash viewers received")
	r.EndToEnd, err = fl.endToEnd(ctx, e, o.Points, o.OutWidth, o.OutHeight, win)
	if err != nil {
		r.note("end-to-end latency not measured: %v", err)
	}
	r.note("end-to-end latency: camsim's flash leaving (a known wall-clock time) to the arrival at a WHEP viewer of the picture showing it in that point's tile; a browser adds its jitter buffer, decoding and display")
	return nil
}
