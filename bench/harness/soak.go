package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"diemcau/bench/whepclient"
)

const (
	// soakPart is archive.part in the soak's config: the unit of loss.
	soakPart = time.Second
	// soakSession is the id of the soak's session.
	soakSession = "soak"
	// minUp: a kill waits until the new process has recorded this long.
	minUp = 2 * time.Second
)

// Soak runs the soak (see SoakOptions) and returns its report; the error
// is non-nil when a limit was broken or the soak could not run.
func Soak(ctx context.Context, o SoakOptions) (*SoakReport, error) {
	o.defaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	rep := &SoakReport{Command: o.Command, StartedAt: time.Now().UTC(), Machine: ReadMachine(), Params: paramsOf(o),
		Limits: o.Limits, Failures: []string{}, Notes: []string{}}
	dir, err := os.MkdirTemp("", "diemcau-soak-*")
	if err != nil {
		return nil, err
	}
	s := &soak{o: o, rep: rep, dir: dir, group: NewProcGroup(dir), tl: newSoakTimeline(), life: newServerLife(),
		rng: rand.New(rand.NewPCG(uint64(o.Seed), 1))}
	runErr := s.run(ctx)
	s.group.Close(30 * time.Second)
	if runErr != nil {
		rep.fail("%v", runErr)
	}
	rep.Pass = len(rep.Failures) == 0
	if o.Keep || !rep.Pass {
		rep.note("run folder kept: %s (config, server-N.log, camsim logs, archive, store)", dir)
	} else {
		os.RemoveAll(dir)
	}
	if o.Out != nil {
		rep.WriteTable(o.Out)
	}
	var errs []error
	if o.JSON != "" {
		if err := rep.WriteJSON(o.JSON); err != nil {
			errs = append(errs, fmt.Errorf("--json: %w", err))
		}
	}
	if !rep.Pass {
		errs = append(errs, fmt.Errorf("soak failed: %d limit(s) broken", len(rep.Failures)))
	}
	return rep, errors.Join(errs...)
}

// soak is one run of it.
type soak struct {
	o     SoakOptions
	rep   *SoakReport
	dir   string
	group *ProcGroup
	tl    *soakTimeline
	life  *serverLife
	rng   *rand.Rand
	srv   *soakServer
	cams  []*soakCamera
	comp  *compositeWatch
	smp   *resourceSampler
	vc    *viewerChurn
	hb    heartbeat
}

func (s *soak) progress(format string, a ...any) {
	if s.o.Progress != nil {
		fmt.Fprintf(s.o.Progress, "\r\033[K[soak] %s", fmt.Sprintf(format, a...))
	}
}

func (s *soak) run(ctx context.Context) error {
	o := s.o
	archive := o.ArchiveDir
	if archive == "" {
		archive = filepath.Join(s.dir, "archive")
	}
	var err error
	if s.srv, err = writeSoakConfig(s.dir, archive, o); err != nil {
		return err
	}
	s.srv.group = s.group
	if s.cams, err = newCameras(o); err != nil {
		return err
	}
	for _, c := range s.cams {
		s.progress("camsim: starting %s", c.name)
		if err := c.start(ctx, s.group); err != nil {
			return err
		}
	}
	s.progress("server: starting")
	if err := s.srv.start(ctx); err != nil {
		return err
	}
	points, err := s.setUp(ctx)
	if err != nil {
		return err
	}
	s.life.setUp()
	s.tl = newSoakTimeline() // the soak's clock starts with the session live
	epoch := s.tl.epoch
	plan := s.plan()

	api, err := whepclient.NewAPI()
	if err != nil {
		return err
	}
	s.comp = &compositeWatch{url: s.srv.rtsp + "/sessions/" + soakSession, user: s.srv.user, pass: s.srv.token,
		epoch: epoch, limitMs: o.Limits.StallMs}
	s.vc = &viewerChurn{base: s.srv.api.Base, path: "/whep/sessions/" + soakSession, token: s.srv.token,
		stayMin: o.ViewerStayMin, stayMax: o.ViewerStayMax, pause: o.ViewerPause, api: api}
	s.smp = &resourceSampler{api: s.srv.api, epoch: epoch, every: o.SampleEvery, viewers: s.vc.now.Load}

	loopCtx, stopLoops := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.hb.run(loopCtx) })
	wg.Go(func() { s.comp.run(loopCtx, s.life, s.tl) })
	wg.Go(func() { s.smp.run(loopCtx, s.life) })
	wg.Go(func() { dropCameras(loopCtx, s.cams, s.group, o.DropEvery, o.DropFor, s.tl) })
	wg.Go(func() { churnPoints(loopCtx, s.srv.api, soakSession, points, o.ChurnEvery, s.tl) })
	for i := range o.Viewers {
		rng := rand.New(rand.NewPCG(uint64(o.Seed), uint64(i+2)))
		wg.Go(func() { s.vc.slot(loopCtx, s.life, rng) })
	}
	killErr := s.killAll(loopCtx, plan, epoch)
	s.comp.end(time.Now())
	stopLoops()
	s.progress("stopping viewers and readers")
	wg.Wait()
	if killErr != nil && ctx.Err() == nil {
		s.rep.fail("%v", killErr)
	}
	return s.finish(ctx, archive)
}

// setUp adds one source per camera, and the session with one point per
// source, started live; it returns once the composite runs and records.
func (s *soak) setUp(ctx context.Context) ([]SessionPoint, error) {
	api := s.srv.api
	info, err := api.Info(ctx)
	if err != nil {
		return nil, err
	}
	s.rep.Encoder, s.rep.Decoder, s.rep.Machine.GStreamer = info.Encoder, info.Decoder, info.GStreamer
	var points []SessionPoint
	for i, c := range s.cams {
		if err := api.AddSource(ctx, c.name, c.url()); err != nil {
			return nil, err
		}
		points = append(points, SessionPoint{ID: fmt.Sprintf("p%d", i+1), Source: c.name})
	}
	o := s.o
	spec := SessionSpec{ID: soakSession, Title: "diemcau soak", Layout: "grid", Record: true, Points: points,
		Output: map[string]int{"width": o.Width, "height": o.Height, "fps": o.FPS, "bitrate": o.OutKbps}}
	if err := api.CreateSession(ctx, spec); err != nil {
		return nil, err
	}
	if err := api.StartSession(ctx, soakSession, "live"); err != nil {
		return nil, err
	}
	s.progress("session: waiting for the composite and its archive")
	_, err = s.waitRecording(ctx, "")
	return points, err
}

// waitRecording waits until the session is live, composites and records
// into a run other than old; it returns that run.
func (s *soak) waitRecording(ctx context.Context, old string) (string, error) {
	var run, last string
	err := waitFor(ctx, 3*time.Minute, "session recording", []*Proc{s.srv.proc}, func() bool {
		st, err := s.srv.api.Session(ctx, soakSession)
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprintf("state %s, recording %v run %q bytes %d %s", st.State, st.Recording.Active, st.Recording.Run, st.Recording.Bytes, st.Recording.Error)
		run = st.Recording.Run
		return st.State == "live" && st.Mixer != nil && st.Mixer.FPS > 0 && st.Recording.Active && st.Recording.Bytes > 0 && run != "" && run != old
	})
	if err != nil {
		return "", fmt.Errorf("%w (last: %s)", err, last)
	}
	return run, nil
}

// plan draws the kill moments: uniform over the kill phase, from an
// eighth of the duration to its end less the quiet tail.
func (s *soak) plan() []time.Duration {
	o := s.o
	from := o.Duration / 8
	to := time.Duration(float64(o.Duration) * (1 - o.QuietTail))
	at := make([]time.Duration, o.Kills)
	for i := range at {
		at[i] = from + time.Duration(s.rng.Int64N(int64(to-from)))
	}
	sort.Slice(at, func(i, j int) bool { return at[i] < at[j] })
	for _, a := range at {
		s.rep.Params.KillsPlannedS = append(s.rep.Params.KillsPlannedS, a.Seconds())
	}
	return at
}
