package harness

import (
	"context"
	"fmt"
	"time"
)

// SubCompare is the composite's figures without sub-streams, for the same
// cameras in the same run as the figures with them (composite --sub).
type SubCompare struct {
	ServerCPU    *float64 `json:"server_cpu_cores"`
	DeliveredFPS *float64 `json:"delivered_fps"`
	MixerFPS     *float64 `json:"mixer_fps"`
	Dropped      *uint64  `json:"dropped_frames"`
	LoadAvg1     float64  `json:"load_average_1m"`
	RealTime     bool     `json:"real_time"`
	NotRealTime  string   `json:"not_real_time,omitempty"`
}

// runCompositeSub: every camsim camera sends a main stream and a
// sub-stream. The grid of the sources' main streams is measured first
// (no sub_url), then each source gets its sub_url and a new session's
// grid is measured: tiles no larger than the sub-stream decode it. The
// run's figures are the second window's; WithoutSub the first's.
func runCompositeSub(ctx context.Context, e *env, r *Run) error {
	o := e.opts
	cam, ids, err := e.startSources(ctx, r, o.Inputs, false)
	if err != nil {
		return err
	}
	plain := &Run{Scenario: r.Scenario, TargetFPS: r.TargetFPS}
	sid, _, err := e.createSessionAs(ctx, e.prefix+"main", ids, false, "rehearsal", true)
	if err != nil {
		return err
	}
	e.progress("composite of %d main streams", len(ids))
	out, err := e.measureOutput(ctx, plain, ids, sid)
	if err != nil {
		return fmt.Errorf("without sub-streams: %w", err)
	}
	out.close()
	if err := e.server.API.StopSession(ctx, sid); err != nil {
		return err
	}
	plain.judge()
	r.WithoutSub = &SubCompare{ServerCPU: plain.ServerCPU, DeliveredFPS: plain.DeliveredFPS, MixerFPS: plain.MixerFPS,
		Dropped: plain.DroppedFrames, LoadAvg1: plain.LoadAvg1, RealTime: plain.RealTime, NotRealTime: plain.NotRealTime}

	for i, id := range ids {
		if err := e.server.API.SetSubURL(ctx, id, fmt.Sprintf("%s/cam%d/sub", cam, e.cameraOf(i+1))); err != nil {
			return fmt.Errorf("source %s: sub_url: %w", id, err)
		}
	}
	e.progress("sources: waiting for %d sub-streams", len(ids))
	var last string
	err = waitFor(ctx, 2*time.Minute, "sub-streams online", e.watch(), func() bool {
		for _, id := range ids {
			st, err := e.server.API.Source(ctx, id)
			if err != nil || st.Sub == nil || st.Sub.State != "online" || st.Sub.Frames == 0 {
				last = fmt.Sprintf("%s: %+v %v", id, st.Sub, err)
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("%w (last: %s)", err, last)
	}
	sid, _, err = e.createSessionAs(ctx, e.prefix+"session", ids, false, "rehearsal", true)
	if err != nil {
		return err
	}
	e.progress("composite of %d points with sub-streams", len(ids))
	if _, err := e.measureOutput(ctx, r, ids, sid); err != nil {
		return err
	}
	if st, err := e.server.API.Session(ctx, sid); err == nil {
		n := 0
		for _, p := range st.Points {
			if p.Feed == "sub" {
				n++
			}
		}
		r.OnSub = &n
		if n < len(ids) {
			r.note("only %d of %d points decoded their sub-stream (tiles larger than %dx%d decode the main stream)", n, len(ids), o.SubWidth, o.SubHeight)
		}
	}
	r.note("bare gst-launch baseline skipped with --sub: it would decode the main streams")
	return nil
}
