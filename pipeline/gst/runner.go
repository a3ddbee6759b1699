package gst

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"
)

// Defaults of RunnerConfig.
const (
	DefaultStateTimeout = 5 * time.Second
	DefaultEOSTimeout   = 3 * time.Second
	busPollInterval     = 100 * time.Millisecond
)

// ErrFrozen is wrapped by Run's error when a state change did not finish in
// time: the pipeline (usually a hardware element) is stuck.
var ErrFrozen = errors.New("pipeline frozen")

// RunnerConfig describes one pipeline run by a Runner.
type RunnerConfig struct {
	// Name identifies the pipeline in logs and errors.
	Name string
	// Launch is the pipeline in gst-launch-1.0 syntax.
	Launch string
	// Sinks are the appsink elements, by name, whose samples Go pulls.
	Sinks []SinkConfig
	// Sources are the appsrc elements, by name, Go pushes buffers into.
	Sources []SourceConfig
	// StateTimeout bounds each state change. Default DefaultStateTimeout.
	StateTimeout time.Duration
	// EOSTimeout bounds the wait for EOS at shutdown. Default DefaultEOSTimeout.
	EOSTimeout time.Duration
}

// Validate names the first bad field.
func (c *RunnerConfig) Validate() error {
	if c.Launch == "" {
		return errors.New("launch: empty pipeline description")
	}
	seen := map[string]bool{}
	for i, s := range c.Sinks {
		if s.Name == "" {
			return fmt.Errorf("sinks[%d].name: empty", i)
		}
		if s.OnSample == nil {
			return fmt.Errorf("sinks[%d].on_sample: nil", i)
		}
		if seen[s.Name] {
			return fmt.Errorf("sinks[%d].name: %q used twice", i, s.Name)
		}
		seen[s.Name] = true
	}
	for i, s := range c.Sources {
		if s.Name == "" {
			return fmt.Errorf("sources[%d].name: empty", i)
		}
		if seen[s.Name] {
			return fmt.Errorf("sources[%d].name: %q used twice", i, s.Name)
		}
		seen[s.Name] = true
	}
	if c.StateTimeout < 0 {
		return fmt.Errorf("state_timeout: negative (%v)", c.StateTimeout)
	}
	if c.EOSTimeout < 0 {
		return fmt.Errorf("eos_timeout: negative (%v)", c.EOSTimeout)
	}
	return nil
}

// Runner owns one GStreamer pipeline for the length of Run. Only the
// goroutine inside Run changes the pipeline's state; appsinks are pulled by
// goroutines Run starts and waits for.
type Runner struct {
	cfg   RunnerConfig
	log   *slog.Logger
	hooks runnerHooks

	ready   chan struct{}
	sources map[string]*AppSource
	ran     atomic.Bool
}

// runnerHooks let code in this package reach into a run (the mixer's
// encoder hands its appsrc to the composite). Both run on Run's goroutine.
type runnerHooks struct {
	// prepared runs once the pipeline is parsed, before it starts; an
	// error ends Run.
	prepared func(p *gst.Pipeline) error
	// ending runs when a started run is over (ctx ended, EOS or an error),
	// before EOS is sent and the pipeline stopped.
	ending func()
}

// NewRunner validates cfg. It starts nothing.
func NewRunner(cfg RunnerConfig, log *slog.Logger) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pipeline %q: %w", cfg.Name, err)
	}
	if cfg.StateTimeout == 0 {
		cfg.StateTimeout = DefaultStateTimeout
	}
	if cfg.EOSTimeout == 0 {
		cfg.EOSTimeout = DefaultEOSTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		cfg:     cfg,
		log:     log.With("pipeline", cfg.Name),
		ready:   make(chan struct{}),
		sources: make(map[string]*AppSource, len(cfg.Sources)),
	}
	for _, sc := range cfg.Sources {
		r.sources[sc.Name] = newAppSource(sc)
	}
	return r, nil
}

// Ready is closed once the pipeline is PLAYING.
func (r *Runner) Ready() <-chan struct{} { return r.ready }

// Source returns the appsrc of that name (configured in RunnerConfig.Sources),
// or nil. Pushing before Ready or after Run returns drops the buffer.
func (r *Runner) Source(name string) *AppSource { return r.sources[name] }

// Run (once per Runner) builds the pipeline, plays it and blocks until it ends: at EOS (nil),
// on an error message (the error), or when ctx ends (nil, after a clean EOS
// and NULL). It returns after its pull goroutines have exited; the single
// exception is a state change frozen in native code, which cannot be
// cancelled and is reported as ErrFrozen.
func (r *Runner) Run(ctx context.Context) error {
	if r.ran.Swap(true) {
		return fmt.Errorf("pipeline %q: Run called twice; make a new Runner", r.cfg.Name)
	}
	Init()
	p, err := gst.NewPipelineFromString(r.cfg.Launch)
	if err != nil {
		return fmt.Errorf("pipeline %q: parse: %w", r.cfg.Name, err)
	}
	bus := p.GetPipelineBus()

	var pulls sync.WaitGroup
	var stopping atomic.Bool
	defer pulls.Wait()
	defer stopping.Store(true)

	sinks := make([]*app.Sink, len(r.cfg.Sinks))
	for i, sc := range r.cfg.Sinks {
		el, err := p.GetElementByName(sc.Name)
		if err != nil {
			return fmt.Errorf("pipeline %q: appsink %q: not in the pipeline", r.cfg.Name, sc.Name)
		}
		sinks[i] = app.SinkFromElement(el)
		configureSink(sinks[i], sc)
	}
	for name, src := range r.sources {
		el, err := p.GetElementByName(name)
		if err != nil {
			return fmt.Errorf("pipeline %q: appsrc %q: not in the pipeline", r.cfg.Name, name)
		}
		if err := src.attach(app.SrcFromElement(el)); err != nil {
			return fmt.Errorf("pipeline %q: appsrc %q: %w", r.cfg.Name, name, err)
		}
		defer src.detach()
	}
	if r.hooks.prepared != nil {
		if err := r.hooks.prepared(p); err != nil {
			return fmt.Errorf("pipeline %q: %w", r.cfg.Name, err)
		}
	}

	if err := r.start(p); err != nil {
		err = r.withBusError(bus, err)
		stopping.Store(true)
		if _, nerr := r.setState(p, gst.StateNull, true); errors.Is(nerr, ErrFrozen) {
			return fmt.Errorf("pipeline %q: start: %w (and stop: %w)", r.cfg.Name, err, nerr)
		}
		return fmt.Errorf("pipeline %q: start: %w", r.cfg.Name, err)
	}
	// Pulls start only now: before the sinks are started, appsink reports
	// EOS, which would end a pull loop at once.
	for i, sc := range r.cfg.Sinks {
		pulls.Add(1)
		go func() {
			defer pulls.Done()
			pullSamples(sinks[i], sc, &stopping)
		}()
	}
	close(r.ready)
	r.log.Debug("playing")

	runErr, eos := r.watch(ctx, bus)
	if r.hooks.ending != nil {
		r.hooks.ending()
	}
	var eosSent <-chan struct{}
	if runErr == nil && !eos {
		eosSent = r.drainToEOS(p, bus)
	}
	stopping.Store(true)
	_, stopErr := r.setState(p, gst.StateNull, true)
	if eosSent != nil && stopErr == nil {
		// NULL unblocks a streaming thread that held the EOS event up.
		select {
		case <-eosSent:
		case <-time.After(r.cfg.StateTimeout):
			stopErr = fmt.Errorf("%w: EOS event still pending after NULL", ErrFrozen)
		}
	}
	if stopErr != nil {
		return errors.Join(runErr, fmt.Errorf("pipeline %q: stop: %w", r.cfg.Name, stopErr))
	}
	return runErr
}

// watch reads the bus until EOS, an error or the end of ctx. It polls on a
// Go ticker rather than blocking in C: a goroutine parked in a cgo call
// for longer than 10 ms makes the Go scheduler's monitor retake its P and
// then wake every 20 µs for a while, which costs more than the polls.
func (r *Runner) watch(ctx context.Context, bus *gst.Bus) (err error, eos bool) {
	types := gst.MessageError | gst.MessageEOS | gst.MessageWarning
	tick := time.NewTicker(busPollInterval)
	defer tick.Stop()
	for ctx.Err() == nil {
		for msg := bus.PopFiltered(types); msg != nil; msg = bus.PopFiltered(types) {
			switch msg.Type() {
			case gst.MessageEOS:
				return nil, true
			case gst.MessageError:
				return fmt.Errorf("pipeline %q: %s: %w", r.cfg.Name, msg.Source(), gerror(msg.ParseError())), false
			case gst.MessageWarning:
				if w := msg.ParseWarning(); w != nil {
					r.log.Warn("gstreamer warning", "element", msg.Source(), "warning", w.Error(), "debug", w.DebugString())
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	return nil, false
}

// drainToEOS sends EOS and waits for it to reach the sinks, so encoders flush
// and files close; bounded because a stuck element must not hang shutdown.
// Sending runs on its own goroutine: a source whose streaming thread is
// blocked downstream holds the event until NULL. The returned channel is
// closed once the send has returned.
func (r *Runner) drainToEOS(p *gst.Pipeline, bus *gst.Bus) <-chan struct{} {
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		p.SendEvent(gst.NewEOSEvent())
	}()
	deadline := time.Now().Add(r.cfg.EOSTimeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			r.log.Warn("no EOS in time; stopping anyway", "timeout", r.cfg.EOSTimeout)
			return sent
		}
		msg := bus.TimedPopFiltered(gst.ClockTime(min(left, busPollInterval)), gst.MessageEOS|gst.MessageError)
		if msg != nil {
			return sent
		}
	}
}

// start plays the pipeline. PAUSED comes first because a live pipeline
// answers it with NO_PREROLL: its sinks preroll only once data flows, which
// for an appsrc means after Ready, so waiting for PLAYING to complete would
// deadlock. A pipeline that prerolls is waited on (bounded) both times.
func (r *Runner) start(p *gst.Pipeline) error {
	ret, err := r.setState(p, gst.StatePaused, true)
	if err != nil {
		return err
	}
	live := ret == gst.StateChangeNoPreroll
	_, err = r.setState(p, gst.StatePlaying, !live)
	return err
}

// setState changes state and, with wait, waits for it to complete, bounded.
// The call runs on its own goroutine so that one stuck in native code cannot
// hang the owner.
func (r *Runner) setState(p *gst.Pipeline, s gst.State, wait bool) (gst.StateChangeReturn, error) {
	type result struct {
		ret gst.StateChangeReturn
		err error
	}
	timeout := r.cfg.StateTimeout
	done := make(chan result, 1)
	go func() {
		if err := p.SetState(s); err != nil {
			done <- result{gst.StateChangeFailure, err}
			return
		}
		if !wait {
			done <- result{gst.StateChangeAsync, nil}
			return
		}
		ret, cur := p.GetState(s, gst.ClockTime(timeout))
		switch ret {
		case gst.StateChangeFailure:
			done <- result{ret, fmt.Errorf("state change to %s failed", s)}
		case gst.StateChangeAsync:
			done <- result{ret, fmt.Errorf("%w: still %s after %v waiting for %s", ErrFrozen, cur, timeout, s)}
		default:
			done <- result{ret, nil}
		}
	}()
	select {
	case res := <-done:
		return res.ret, res.err
	case <-time.After(timeout + time.Second):
		return gst.StateChangeFailure, fmt.Errorf("%w: state change to %s did not return in %v", ErrFrozen, s, timeout)
	}
}

// withBusError adds the reason GStreamer posted (not negotiated, no device)
// to a failed state change.
func (r *Runner) withBusError(bus *gst.Bus, err error) error {
	// The element posts its reason around the time the change fails.
	if msg := bus.TimedPopFiltered(gst.ClockTime(time.Second), gst.MessageError); msg != nil {
		return fmt.Errorf("%w: %s: %w", err, msg.Source(), gerror(msg.ParseError()))
	}
	return err
}

func gerror(e *gst.GError) error {
	if e == nil {
		return errors.New("unknown error")
	}
	if d := e.DebugString(); d != "" {
		return fmt.Errorf("%s (%s)", e.Error(), d)
	}
	return errors.New(e.Error())
}
