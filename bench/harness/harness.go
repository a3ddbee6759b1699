// Package harness is `diemcau bench`: load scenarios run against the real
// binary. Each run starts its own camsim and server on loopback (or uses a
// --target), warms up, measures one window, tears everything down, and
// reports per-process CPU and memory, delivered fps, drops, loss, latency,
// first-frame time and bytes written. A sweep runs a series of loads and
// finds the largest that holds real time. See bench/README.md.
package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// scenario is one of relay, composite, record, session, nodes.
type scenario struct {
	name   string
	params []string // sweepable loads; the first is the one a run reports
	run    func(ctx context.Context, e *env, r *Run) error
}

// Scenarios lists the scenario names.
func Scenarios() []string { return []string{"relay", "composite", "record", "session", "nodes"} }

func lookup(name string) (scenario, bool) {
	switch name {
	case "relay":
		return scenario{name, []string{"viewers", "cameras", "senders"}, runRelay}, true
	case "composite":
		return scenario{name, []string{"inputs"}, runComposite}, true
	case "record":
		return scenario{name, []string{"streams"}, runRecord}, true
	case "session":
		return scenario{name, []string{"points", "viewers"}, runSession}, true
	case "nodes":
		return scenario{name, []string{"nodes"}, runNodes}, true
	}
	return scenario{}, false
}

// env is what one run's scenario works with.
type env struct {
	opts     Options
	dir      string
	group    *ProcGroup
	prefix   string // of every id the run creates on the server
	server   *Server
	camsim   *Proc
	pattern  bool // camsim sends the avsync pattern (session), not the moving picture
	rep      *Report
	label    string                        // "composite inputs=4 (2/3)", for the progress line
	cleanups []func(context.Context) error // on a --target: what the run made there
	closers  []func()                      // this process's readers and viewers
}

// progress rewrites the live line on stderr.
func (e *env) progress(format string, a ...any) {
	if e.opts.Progress == nil {
		return
	}
	fmt.Fprintf(e.opts.Progress, "\r\033[K[%s] %s", e.label, fmt.Sprintf(format, a...))
}

// Bench runs the scenario once, or once per load of the sweep, and writes
// the table, the JSON and the HTML page the options ask for. The report
// holds every run made, failed ones with their error.
func Bench(ctx context.Context, name string, o Options) (*Report, error) {
	sc, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("scenario %q: want one of %s", name, strings.Join(Scenarios(), ", "))
	}
	o.defaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	param, values := sc.params[0], []int{*o.load(sc.params[0])}
	if o.Sweep != "" {
		var err error
		if param, values, err = parseSweep(o.Sweep, sc.params); err != nil {
			return nil, err
		}
		sort.Ints(values)
	}
	rep := &Report{Scenario: name, Command: o.Command, StartedAt: time.Now().UTC(), Machine: ReadMachine()}
	var errs []error
	for i, v := range values {
		oo := o
		*oo.load(param) = v
		label := fmt.Sprintf("%s %s=%d", name, param, v)
		if len(values) > 1 {
			label += fmt.Sprintf(" (%d/%d)", i+1, len(values))
		}
		r := runOnce(ctx, sc, oo, param, v, label, rep)
		rep.Runs = append(rep.Runs, r)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "\r\033[K[%s] %s\n", label, r.summary())
		}
		if ctx.Err() != nil {
			break
		}
		if r.Error != "" {
			errs = append(errs, fmt.Errorf("%s: %s", label, r.Error))
		}
	}
	if o.Sweep != "" {
		rep.Sweep = &Sweep{Param: param, Values: values}
		rep.Sweep.findCarries(rep.Runs)
	}
	if o.Out != nil {
		rep.WriteTable(o.Out)
	}
	if o.JSON != "" {
		if err := rep.WriteJSON(o.JSON); err != nil {
			errs = append(errs, fmt.Errorf("--json: %w", err))
		}
	}
	if o.HTML != "" {
		if err := rep.WriteHTML(o.HTML); err != nil {
			errs = append(errs, fmt.Errorf("--html: %w", err))
		}
	}
	if ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("interrupted: %w", ctx.Err()))
	}
	return rep, errors.Join(errs...)
}

// runOnce is one load point: set up, measure, tear down. Every child is
// stopped and every object made on a --target removed on every way out,
// a cancelled ctx (Ctrl-C) and a panic included.
func runOnce(ctx context.Context, sc scenario, o Options, param string, load int, label string, rep *Report) (r *Run) {
	r = &Run{Scenario: sc.name, LoadName: param, Load: load, TargetFPS: float64(o.FPS), Notes: []string{}, Samples: []Sample{}}
	r.Params = Params{
		Width: o.Width, Height: o.Height, FPS: o.FPS, BitrateKbps: o.BitrateKbps,
		WarmupS: o.Warmup.Seconds(), SecondsS: o.Seconds.Seconds(), Target: o.Target, ArchiveDir: o.ArchiveDir,
	}
	dir, err := os.MkdirTemp("", "diemcau-bench-*")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	var pb [3]byte
	_, _ = rand.Read(pb[:])
	e := &env{opts: o, dir: dir, group: NewProcGroup(dir), prefix: "bench-" + hex.EncodeToString(pb[:]) + "-", rep: rep, label: label}
	defer func() {
		if p := recover(); p != nil {
			r.Error = fmt.Sprintf("panic: %v", p)
		}
		e.teardown()
		if o.Keep {
			r.note("run folder kept: %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	if err := sc.run(ctx, e, r); err != nil {
		r.Error = err.Error()
	}
	r.judge()
	return r
}

// teardown removes what the run made on a --target (newest first), then
// stops the children, with a fresh context: the run's may be cancelled. A
// server this run started is simply stopped (SIGTERM: it stops its
// sessions and seals their archives itself).
func (e *env) teardown() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	if e.opts.Target != "" && e.server != nil {
		e.progress("removing the run's session and sources from the target")
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout+time.Minute)
		for i := len(e.cleanups) - 1; i >= 0; i-- {
			_ = e.cleanups[i](ctx)
		}
		cancel()
	}
	e.progress("stopping")
	e.group.Close(20 * time.Second)
}

func exited(p *Proc) bool {
	ok, _ := p.Exited()
	return ok
}

// readInfo records the codecs the server chose and the GStreamer version.
func (e *env) readInfo(ctx context.Context, r *Run) error {
	info, err := e.server.API.Info(ctx)
	if err != nil {
		return err
	}
	r.Encoder, r.Decoder = info.Encoder.Element, info.Decoder.Element
	e.rep.Encoder, e.rep.Decoder = info.Encoder, info.Decoder
	e.rep.Machine.GStreamer = info.GStreamer
	return nil
}

// sleep waits d or until ctx ends, watching the children.
func (e *env) sleep(ctx context.Context, d time.Duration, what string) error {
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 {
			return nil
		}
		for _, p := range e.watch() {
			if exited(p) {
				return p.ExitError()
			}
		}
		e.progress("%s %.0f s", what, left.Seconds())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(left, time.Second)):
		}
	}
}

// window measures one window with a fresh meter (see measure) and files
// its samples and every process's figures in r; it returns its length in
// seconds.
func (e *env) window(ctx context.Context, r *Run, frames func() uint64, onSecond func() string) (float64, error) {
	m := e.newMeter()
	win, samples, err := e.measure(ctx, m, frames, onSecond)
	r.WindowS, r.Samples = win, samples
	if err != nil {
		return win, err
	}
	r.endWindow(m.end(ctx))
	return win, nil
}

// measure runs the window: the meter reads every process at its start and
// end; each second the server's CPU and the frames counted so far
// (frames may be nil) make a sample, and onSecond (may be nil) samples
// what else the scenario follows and returns it for the progress line.
func (e *env) measure(ctx context.Context, m *meter, frames func() uint64, onSecond func() string) (float64, []Sample, error) {
	m.begin(ctx)
	start := time.Now()
	var lastFrames uint64
	if frames != nil {
		lastFrames = frames()
	}
	lastAt := start
	samples := []Sample{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Since(start) < e.opts.Seconds {
		select {
		case <-ctx.Done():
			return time.Since(start).Seconds(), samples, ctx.Err()
		case <-tick.C:
		}
		for _, p := range e.watch() {
			if exited(p) {
				return time.Since(start).Seconds(), samples, p.ExitError()
			}
		}
		now := time.Now()
		s := Sample{T: now.Sub(start).Seconds(), ServerCPU: m.tick(ctx)}
		if frames != nil {
			n := frames()
			s.FPS = float64(n-lastFrames) / now.Sub(lastAt).Seconds()
			lastFrames = n
		}
		lastAt = now
		samples = append(samples, s)
		line := fmt.Sprintf("measuring %.0f/%.0f s · server %.2f cores", s.T, e.opts.Seconds.Seconds(), s.ServerCPU)
		if frames != nil {
			line += fmt.Sprintf(" · %.1f fps", s.FPS)
		}
		if onSecond != nil {
			line += onSecond()
		}
		e.progress("%s", line)
	}
	return time.Since(start).Seconds(), samples, nil
}

// endWindow files the meter's figures, picks out the server's, and notes
// how busy the machine was (other work on it shows here).
func (r *Run) endWindow(procs []ProcessFigures) {
	r.LoadAvg1 = ReadMachine().LoadAvg1
	r.Processes = procs
	for _, p := range procs {
		if p.Role == "server" {
			r.ServerCPU = ptr(p.CPU)
			r.ServerPeakRSS = ptr(p.PeakRSS)
		}
	}
}

// summary is the one-line verdict printed after each run.
func (r *Run) summary() string {
	if r.Error != "" {
		return "failed: " + r.Error
	}
	s := "real time"
	if !r.RealTime {
		s = "NOT real time: " + r.NotRealTime
	}
	if r.ServerCPU != nil {
		s += fmt.Sprintf(" · server %.2f cores", *r.ServerCPU)
	}
	if r.DeliveredFPS != nil {
		s += fmt.Sprintf(" · %.1f fps", *r.DeliveredFPS)
	}
	return s
}
