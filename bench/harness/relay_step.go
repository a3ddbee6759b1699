package harness

import (
	"context"
	"fmt"
	"io"
	"strconv"
)

// RelayStep is relay's second window, after StepViewers more viewers
// joined the same server: the cost of a viewer as the slope between the
// two loads, which leaves out what does not grow with viewers (the
// cameras, ingest, the reference viewer) and what a per-viewer average at
// one load divides among them.
type RelayStep struct {
	Viewers      int     `json:"viewers"` // in all, in the second window
	Added        int     `json:"added"`
	ServerCPU    float64 `json:"server_cpu_cores"`
	ReferenceFPS float64 `json:"reference_fps"` // the reference viewer's whole frames per second
	Starved      int     `json:"starved"`
	// CPUPerViewer is (CPU2 - CPU1) / Added, in % of one core.
	CPUPerViewer float64 `json:"cpu_per_viewer_pct"`
	// RSSPerViewer is the growth of the server's resident set (VmRSS, not
	// the peak) from the first window to the second, per added viewer.
	RSSPerViewer float64 `json:"rss_per_viewer_bytes"`
	// FirstServerCPU is the first window's, for the slope.
	FirstServerCPU float64       `json:"first_server_cpu_cores"`
	Threads        []ThreadGroup `json:"threads,omitempty"`
}

// relayStep adds o.StepViewers viewers to the running relay and measures
// a second window with every viewer.
func relayStep(ctx context.Context, e *env, r *Run, paths []string, vl *viewerLoad) error {
	o := e.opts
	if r.ServerCPU == nil || e.server.pid == 0 {
		r.note("step: needs the server's /proc (a started server, or --target-pid)")
		return nil
	}
	st := &RelayStep{Added: o.StepViewers, Viewers: vl.vf.Connected + o.StepViewers, FirstServerCPU: *r.ServerCPU}
	pid := strconv.Itoa(e.server.pid)
	_, rss1 := memStatus(pid)

	e.progress("step: connecting %d more viewers", o.StepViewers)
	api := e.server.API
	lg, ready, err := startLoadGen(ctx, api.Base, api.Token, paths, o.StepViewers)
	if err != nil {
		return fmt.Errorf("step: %w", err)
	}
	defer lg.close()
	if ready.Failed > 0 {
		r.fail("step: %d of %d added viewers did not connect (first error: %s)", ready.Failed, o.StepViewers, ready.Error)
	}
	if err := e.sleep(ctx, o.Warmup, "step: warming up"); err != nil {
		return err
	}
	_, rss2 := memStatus(pid)
	if err := vl.lg.begin(); err != nil {
		return err
	}
	if err := lg.begin(); err != nil {
		return err
	}
	rc0 := vl.ref.counts()
	m := e.newMeter()
	if _, _, err := e.measure(ctx, m, vl.frames, nil); err != nil {
		return err
	}
	for _, p := range m.end(ctx) {
		if p.Role == "server" {
			st.ServerCPU, st.Threads = p.CPU, p.Threads
		}
	}
	rc1 := vl.ref.counts()
	ev1, err := vl.lg.end(ctx)
	if err != nil {
		return err
	}
	ev2, err := lg.end(ctx)
	if err != nil {
		return err
	}
	if secs := rc1.at.Sub(rc0.at).Seconds(); secs > 0 {
		st.ReferenceFPS = float64(rc1.frames-rc0.frames) / secs
	}
	st.Starved = ev1.Starved + ev2.Starved
	st.CPUPerViewer = 100 * (st.ServerCPU - st.FirstServerCPU) / float64(o.StepViewers)
	st.RSSPerViewer = (float64(rss2) - float64(rss1)) / float64(o.StepViewers)
	r.Step = st
	if st.ReferenceFPS < 0.98*float64(o.FPS) || st.Starved > 0 {
		r.fail("step: with %d viewers the reference viewer got %.1f fps, %d viewers starved", st.Viewers, st.ReferenceFPS, st.Starved)
	}
	return nil
}

// writeRelayStep prints the step's line, when the run made one.
func writeRelayStep(w io.Writer, r *Run) {
	st := r.Step
	if st == nil {
		return
	}
	fmt.Fprintf(w, "%s=%d step to %d viewers: server %.2f → %.2f cores, %.1f fps, %d starved · per added viewer %.3f%% of a core, %.0f KiB RSS\n",
		r.LoadName, r.Load, st.Viewers, st.FirstServerCPU, st.ServerCPU, st.ReferenceFPS, st.Starved, st.CPUPerViewer, st.RSSPerViewer/1024)
	writeThreads(w, fmt.Sprintf("%s=%d step server %.2f cores:", r.LoadName, r.Load, st.ServerCPU), st.Threads)
}
