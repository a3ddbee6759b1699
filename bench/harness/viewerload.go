package harness

import (
	"context"
	"fmt"
	"time"
)

// viewerLoad is the viewers of a run: the load generator's, which count
// packets, and one new viewer, joining last, that times its first frame
// and counts whole frames through the window.
type viewerLoad struct {
	lg       *loadGen
	ref      *whepViewer
	vf       *ViewerFigures
	rc0, rc1 viewerCounts // the new viewer's, at the window's ends
	ev       loadEvent    // the load generator's, over the window
}

// startViewers connects total load viewers (viewer i watches paths[i %
// len(paths)]), then the new viewer of refPath, and files the connect and
// first-frame figures in r. Close it when the run ends.
func (e *env) startViewers(ctx context.Context, r *Run, paths []string, total int, refPath string) (*viewerLoad, error) {
	api := e.server.API
	t0 := time.Now()
	lg, ready, err := startLoadGen(ctx, api.Base, api.Token, paths, total)
	if err != nil {
		return nil, err
	}
	vl := &viewerLoad{lg: lg, vf: &ViewerFigures{Total: total, Connected: ready.Connected, ConnectS: time.Since(t0).Seconds()}}
	r.Viewers = vl.vf
	if ready.Failed > 0 {
		r.fail("%d of %d viewers did not connect (first error: %s)", ready.Failed, total, ready.Error)
	}
	if ready.Connected == 0 {
		vl.close()
		return nil, fmt.Errorf("no viewer connected: %s", ready.Error)
	}
	e.progress("new viewer: timing its first frame")
	if vl.ref, err = dialWHEP(ctx, api.Base, refPath, api.Token, e.opts.FPS); err != nil {
		vl.close()
		return nil, fmt.Errorf("reference viewer: %w", err)
	}
	ff, err := vl.ref.waitFirstFrame(ctx, 30*time.Second)
	if err != nil {
		vl.close()
		return nil, err
	}
	r.FirstFrameMs = ptr(ms(ff))
	return vl, nil
}

// begin opens the measured window for every viewer.
func (vl *viewerLoad) begin() error {
	if err := vl.lg.begin(); err != nil {
		return err
	}
	vl.rc0 = vl.ref.counts()
	vl.ref.record(true)
	return nil
}

// frames is the new viewer's count of whole frames so far.
func (vl *viewerLoad) frames() uint64 { return vl.ref.counts().frames }

// end closes the window and reads what every viewer received in it.
func (vl *viewerLoad) end(ctx context.Context) error {
	vl.rc1 = vl.ref.counts()
	vl.ref.record(false)
	var err error
	vl.ev, err = vl.lg.end(ctx)
	return err
}

// fill files the window's viewer figures. The load viewers count packets,
// not frames: every viewer of a stream gets the same packets, so the new
// viewer's packets per frame turns their video packets into frames
// (DeliveredFPS stays unset when there is nothing to turn). The worst is
// the new viewer's frame rate, or 0 when a load viewer starved.
func (vl *viewerLoad) fill(r *Run) {
	ev, rc0, rc1 := vl.ev, vl.rc0, vl.rc1
	refFPS := float64(rc1.frames-rc0.frames) / rc1.at.Sub(rc0.at).Seconds()
	vf := vl.vf
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
	}
	worst := refFPS
	if ev.Starved > 0 {
		worst = 0
		r.fail("%d viewers got nothing in the window", ev.Starved)
	}
	r.DeliveredFPSMin = ptr(worst)
	r.OutputMissingFrames = ptr(rc1.missing - rc0.missing)
	r.RTPLost = ptr(ev.Lost + rc1.lost - rc0.lost)
	r.FrameIntervalMs = vl.ref.intervalPercentiles()
}

// close sends every viewer away.
func (vl *viewerLoad) close() {
	if vl.ref != nil {
		vl.ref.close()
	}
	vl.lg.close()
}
