package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// runRecord: a live session of streams camsim points, recorded, as an
// operator runs one; the figures that matter are the archive's (bytes
// written per second, fsync, frames kept), with the composite's alongside
// since a live session always makes one.
func runRecord(ctx context.Context, e *env, r *Run) error {
	o := e.opts
	r.Params.Streams, r.Params.Audio = o.Streams, true
	r.Params.OutWidth, r.Params.OutHeight, r.Params.OutKbps = o.OutWidth, o.OutHeight, o.OutKbps
	_, ids, err := e.startSources(ctx, r, o.Streams, true)
	if err != nil {
		return err
	}
	sid, _, err := e.startLiveSession(ctx, ids, false)
	if err != nil {
		return err
	}
	if err := e.sleep(ctx, o.Warmup, "warming up"); err != nil {
		return err
	}
	ss := &sessionSampler{api: e.server.API, id: sid, archiveOnly: true}
	if err := ss.begin(ctx); err != nil {
		return err
	}
	in0 := e.ingest(ctx, ids)
	disk0, diskOK := e.serverDiskWrites()
	win, err := e.window(ctx, r, nil, func() string { return ss.sample(ctx) })
	if err != nil {
		return err
	}
	disk1, _ := e.serverDiskWrites()
	ss.sample(ctx)
	in1 := e.ingest(ctx, ids)
	ss.fill(r, win)
	// The mixer's drops are the composite's; the archive's are counted
	// from the files below.
	mixerDropped := r.DroppedFrames
	r.DroppedFrames = nil
	if mixerDropped != nil {
		r.note("composite (not judged here): %.1f fps, %d frames dropped by the mixer", deref(r.MixerFPS), *mixerDropped)
	}
	r.InputRTPLost = ptr(in1.lost - min(in0.lost, in1.lost))
	if diskOK {
		r.DiskWriteBytesPerS = ptr(float64(disk1-disk0) / win)
	}
	if in1.kbps > 0 && r.BytesWrittenPerS != nil {
		r.note("archived %.2f MB/s: the %d sources as received (%.2f MB/s) and the composite (up to %.2f MB/s)",
			*r.BytesWrittenPerS/1e6, len(ids), in1.kbps*1000/8/1e6, float64(o.OutKbps)*1000/8/1e6)
	}
	return e.judgeArchive(ctx, r, sid)
}

// waitRecording waits until the live run has written its first part.
func (e *env) waitRecording(ctx context.Context, sid string) error {
	e.progress("archive: waiting for the first part")
	return waitFor(ctx, time.Minute, "recording", e.watch(), func() bool {
		st, err := e.server.API.Session(ctx, sid)
		return err == nil && st.Recording.Active && st.Recording.Bytes > 0
	})
}

func (e *env) serverDiskWrites() (uint64, bool) {
	if e.server.pid == 0 {
		return 0, false
	}
	return diskWrites(fmt.Sprint(e.server.pid))
}

// judgeArchive stops the session so its run is sealed, then reads every
// source stream's segments: frames kept per second and frames missing,
// over the whole run (the archive keeps the cameras' own timing).
func (e *env) judgeArchive(ctx context.Context, r *Run, sid string) error {
	st, err := e.server.API.Session(ctx, sid)
	if err != nil {
		return err
	}
	run := st.Recording.Run
	if err := e.server.API.StopSession(ctx, sid); err != nil {
		return err
	}
	if e.server.ArchiveRoot == "" {
		r.note("archived fps: not read (a --target's archive is not on this machine's path)")
		return nil
	}
	runDir := filepath.Join(e.server.ArchiveRoot, filepath.FromSlash(run))
	if run == "" || !strings.HasPrefix(filepath.Clean(runDir), filepath.Clean(e.server.ArchiveRoot)) {
		return fmt.Errorf("archive: the session reports no run folder (%q)", run)
	}
	streams, err := readArchivedRun(runDir, e.opts.FPS)
	if err != nil {
		return err
	}
	var sum, worst float64
	var missing uint64
	n := 0
	worst = -1
	for _, s := range streams {
		if !strings.HasPrefix(s.name, "sources/") {
			continue
		}
		f := s.fps()
		sum += f
		if worst < 0 || f < worst {
			worst = f
		}
		missing += s.missing
		n++
	}
	if n == 0 {
		return fmt.Errorf("archive %s: no source streams", runDir)
	}
	r.ArchivedFPS = ptr(sum / float64(n))
	r.DeliveredFPS, r.DeliveredFPSMin = ptr(sum/float64(n)), ptr(worst)
	r.DroppedFrames = ptr(missing)
	r.note("delivered fps: video samples per second of media in the archive, mean and worst of %d source streams over the whole run; dropped: frames missing between samples", n)
	return nil
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
