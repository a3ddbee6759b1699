package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// killAll makes the planned kills, each at its moment or, when the server
// is still coming back from the previous one, once it has recorded for
// minUp; then it waits out the soak's duration.
func (s *soak) killAll(ctx context.Context, plan []time.Duration, epoch time.Time) error {
	resumedAt := time.Now()
	wait := func(until func() bool) error {
		for !until() {
			s.progressLine(epoch)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
		return nil
	}
	for i, at := range plan {
		if err := wait(func() bool {
			now := time.Now()
			return now.Sub(epoch) >= at && now.Sub(resumedAt) >= minUp
		}); err != nil {
			return nil // the soak was stopped
		}
		k, err := s.killOnce(ctx, i+1, epoch)
		if err != nil {
			return fmt.Errorf("kill %d: %w", i+1, err)
		}
		resumedAt = k.killAt.Add(time.Duration(k.ResumedS * float64(time.Second)))
	}
	_ = wait(func() bool { return time.Since(epoch) >= s.o.Duration })
	return nil
}

// killOnce reads the live run's open segments, SIGKILLs the server,
// starts it again with the same config and waits until the session
// records again, in a new run.
func (s *soak) killOnce(ctx context.Context, n int, epoch time.Time) (*KillFigures, error) {
	api := s.srv.api
	st, err := api.Session(ctx, soakSession)
	if err != nil {
		return nil, fmt.Errorf("session status before the kill: %w", err)
	}
	run := st.Recording.Run
	if run == "" {
		return nil, fmt.Errorf("session not recording before the kill (state %s)", st.State)
	}
	s.comp.pause()
	s.life.setDown()
	snap, snapErr := snapshotRun(s.srv.archive, filepath.Join(s.srv.archive, filepath.FromSlash(run)))
	killAt := time.Now()
	if err := s.srv.kill(); err != nil {
		return nil, err
	}
	s.tl.add("kill", "#%d during run %s", n, run)
	if snapErr != nil {
		s.rep.fail("kill %d: reading run %s before the kill: %v", n, run, snapErr)
	} else if cs := snap.Streams["composite"]; cs != nil && cs.Open != "" {
		if frames, ok := s.comp.framesBetween(cs.MTime, killAt); ok {
			cs.ReaderFrames = &frames
		}
	}
	k := &KillFigures{N: n, AtS: killAt.Sub(epoch).Seconds(), Run: run, snap: snap, killAt: killAt}
	s.rep.Kills = append(s.rep.Kills, *k)
	if err := s.srv.start(ctx); err != nil {
		return nil, fmt.Errorf("restart: %w", err)
	}
	k.ReadyS = time.Since(killAt).Seconds()
	s.tl.add("ready", "process %d", s.srv.starts)
	newRun, err := s.waitRecording(ctx, run)
	if err != nil {
		return nil, fmt.Errorf("after the restart: %w", err)
	}
	k.ResumedS = time.Since(killAt).Seconds()
	s.tl.add("resumed", "run %s", newRun)
	// The kill window ends here: the session composites and records
	// again; viewers and the reader come back now.
	s.comp.resume()
	s.life.setUp()
	s.rep.Kills[len(s.rep.Kills)-1] = *k
	return k, nil
}

func (s *soak) progressLine(epoch time.Time) {
	if s.o.Progress == nil {
		return
	}
	gen, up, _ := s.life.current()
	state := "up"
	if !up {
		state = "restarting"
	}
	frames, maxGap := s.comp.sofar()
	s.progress("%.0f/%.0f s · kills %d/%d · server %d %s · viewers %d · composite %d frames, longest gap %.0f ms",
		time.Since(epoch).Seconds(), s.o.Duration.Seconds(), len(s.rep.Kills), s.o.Kills, gen, state, s.vc.now.Load(), frames, maxGap)
}

// finish checks the session lived through it all, stops it (its last run
// is sealed) and the server, then judges: every run verifies, what each
// kill cost, the composite's gaps, the resources' growth.
func (s *soak) finish(ctx context.Context, archive string) error {
	o, rep, api := s.o, s.rep, s.srv.api
	rep.ElapsedS = time.Since(s.tl.epoch).Seconds()
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	st, err := api.Session(ctx, soakSession)
	switch {
	case err != nil:
		rep.fail("session status at the end: %v", err)
	case st.State != "live" || !st.Recording.Active:
		rep.fail("session at the end: state %s, recording %v (%s)", st.State, st.Recording.Active, st.Recording.Error)
	case st.Error != "":
		rep.fail("session at the end reports: %s", st.Error)
	}
	s.progress("stopping the session (its run is sealed)")
	if err := api.StopSession(ctx, soakSession); err != nil {
		rep.fail("stopping the session: %v", err)
	}
	s.progress("stopping the server")
	s.srv.proc.Stop(time.Minute)
	if _, err := s.srv.proc.Exited(); err != nil {
		rep.fail("the server did not stop cleanly on SIGTERM: %v", err)
	}

	events, stops := s.tl.snapshot()
	rep.Events = events
	rep.CameraDrops = s.tl.count("camera-drop")
	rep.PointChanges = s.tl.count("point-left") + s.tl.count("point-joined")
	for _, e := range events {
		if e.Kind == "error" {
			rep.fail("at %.0f s: %s", e.AtS, e.Detail)
		}
	}
	if len(rep.Kills) < o.Kills {
		rep.fail("%d of %d kills made", len(rep.Kills), o.Kills)
	}

	s.progress("verifying every run")
	if rep.Runs, err = verifyRuns(ctx, o.Binary, s.srv.cfgPath, archive, filepath.Join(archive, soakSession)); err != nil {
		return err
	}
	for _, b := range judgeRuns(rep.Runs, len(rep.Kills)) {
		rep.fail("%s", b)
	}

	// A keeping-up writer holds one part and up to two frames (the one
	// that completes the part is written with it).
	tol := 2 / float64(o.FPS) / soakPart.Seconds()
	for i := range rep.Kills {
		k := &rep.Kills[i]
		if k.snap == nil {
			continue
		}
		k.Streams = k.snap.losses(k.killAt, stops, soakPart, o.FPS, s.hb.frozen)
		for _, l := range k.Streams {
			k.MaxLostParts = max(k.MaxLostParts, l.Parts)
			if l.Parts > o.Limits.LostPartsPerKill+tol {
				rep.fail("kill %d: %s lost %.2f parts (%.2f s not written: %.2f s since its last write, the machine frozen %.2f s of it; %d whole parts cut by repair)",
					k.N, l.Stream, l.Parts, l.InflightS, l.SinceWriteS, l.MachineS, l.Cut)
			}
		}
	}

	rep.Composite = s.comp.figures(&s.hb)
	c := rep.Composite
	switch {
	case c.Frames == 0:
		rep.fail("composite: no frame reached the reader")
	case c.MaxServerMs > o.Limits.StallMs:
		w := c.Stalls[0]
		rep.fail("composite: %d gaps over the slate delay of %.0f ms with the machine's freezes taken out; the longest %.0f ms at %.0f s (%.0f ms as read, the bench frozen %.0f ms of it)",
			c.OverLimit, o.Limits.StallMs, w.ServerMs, w.AtS, w.Ms, w.MachineMs)
	}
	rep.Viewers = s.vc.figures(o.Viewers)
	if o.Viewers > 0 && rep.Viewers.WithMedia == 0 {
		rep.fail("viewers: none received video (%s)", rep.Viewers.FirstError)
	}

	samples, missing, checked := s.smp.result()
	rep.Samples = samples
	switch {
	case !checked:
		rep.fail("resources: /metrics was never read")
	case len(missing) > 0:
		rep.fail("resources: /metrics does not export %v", missing)
	default:
		rep.Stretches = stretches(samples, o.Warmup, o.JudgeSpan)
		for _, b := range judgeGrowth(rep.Stretches, o.Limits) {
			rep.fail("%s", b)
		}
	}
	rep.LoadAvg1End = ReadMachine().LoadAvg1
	if s.o.Progress != nil {
		fmt.Fprint(s.o.Progress, "\r\033[K")
	}
	return nil
}
