package harness

import (
	"context"
)

// startSources runs camsim with n cameras (with sound when audio) and the
// server, files the server's codecs in r, and adds one source per camera,
// each delivering frames. It returns camsim's RTSP base and the source ids.
func (e *env) startSources(ctx context.Context, r *Run, n int, audio bool) (cam string, ids []string, err error) {
	if cam, err = e.startCamsim(ctx, n, audio); err != nil {
		return "", nil, err
	}
	if e.server, err = e.startServer(ctx); err != nil {
		return "", nil, err
	}
	if err := e.readInfo(ctx, r); err != nil {
		return "", nil, err
	}
	ids, err = e.addSources(ctx, cam, n)
	return cam, ids, err
}

// startLiveSession makes a recorded grid session of the sources, starts
// it live and waits until its archive has a first part; waitComposite
// waits for the composite's first pictures too. It returns the session's
// id and its points' ids.
func (e *env) startLiveSession(ctx context.Context, ids []string, waitComposite bool) (string, []string, error) {
	sid, points, err := e.createSession(ctx, ids, true, "live", waitComposite)
	if err != nil {
		return "", nil, err
	}
	return sid, points, e.waitRecording(ctx, sid)
}
