package sessions

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"diemcau/pipeline"
)

// running is one session between start and stop.
type running struct {
	spec    Spec
	mode    string
	started time.Time
	log     *slog.Logger
	inputs  map[string]*pipeline.Stream // by source id
	mixer   Composite

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	change sync.Mutex // one change of points at a time

	mu        sync.Mutex
	recording Recording
	recErr    string
	mixErr    string
	stopErr   error
	// stopped is set by Manager.Stop: an operator ended the session. A
	// server shutdown leaves the stored state as it was, so the session
	// resumes (in a new archive run) when the server starts again.
	stopped bool
}

// prepare resolves the points' streams and builds the composite; nothing runs
// yet, so a failure here leaves no trace.
func (m *Manager) prepare(spec Spec, mode string) (*running, error) {
	r := &running{
		spec: spec, mode: mode, started: time.Now().UTC(),
		log:    m.log.With("session", spec.ID, "mode", mode),
		inputs: map[string]*pipeline.Stream{},
		done:   make(chan struct{}),
	}
	if len(spec.Points) == 0 {
		return nil, fmt.Errorf("no points")
	}
	for _, p := range spec.Points {
		s, ok := m.deps.Stream(p.Source)
		if !ok {
			return nil, fmt.Errorf("point %q: no source %q", p.ID, p.Source)
		}
		r.inputs[p.Source] = s
	}
	if m.deps.Mixer != nil {
		byPoint := make(map[string]*pipeline.Stream, len(spec.Points))
		for _, p := range spec.Points {
			byPoint[p.ID] = r.inputs[p.Source]
		}
		mix, err := m.deps.Mixer(spec, byPoint)
		if err != nil {
			return nil, fmt.Errorf("composite: %w", err)
		}
		r.mixer = mix
	}
	r.ctx, r.cancel = context.WithCancel(m.runCtx)
	return r, nil
}

// run is the session's owner goroutine: it starts the composite, the RTSP
// path and the archive, waits for stop, and tears down in reverse order:
// the archive first, then the composite.
func (r *running) run(m *Manager) {
	defer close(r.done)
	defer m.remove(r.spec.ID)
	r.mu.Lock()
	points := len(r.spec.Points)
	r.mu.Unlock()
	r.log.Info("session started", "points", points, "record", r.mode == StateLive && r.spec.Record)

	// The composite outlives the session's context by the archive's stop:
	// its encoders' last sound (AAC leaves 50-100 ms after its picture)
	// reaches the archive before the composite ends.
	mixCtx, stopMix := context.WithCancel(m.runCtx)
	defer stopMix()
	var wg sync.WaitGroup
	if r.mixer != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.mixer.Run(mixCtx); err != nil && r.ctx.Err() == nil {
				r.log.Error("composite stopped", "err", err)
				r.mu.Lock()
				r.mixErr = err.Error()
				r.mu.Unlock()
			}
		}()
		if m.deps.Serve != nil {
			// AAC rather than Opus: what hardware decoders at the points play.
			unserve := m.deps.Serve("sessions/"+r.spec.ID, r.mixer.Archive())
			defer unserve()
		}
	}
	if r.mode == StateLive && r.spec.Record && m.deps.Recorder != nil {
		r.startRecording(m)
	}

	<-r.ctx.Done()

	r.mu.Lock()
	rec := r.recording
	r.mu.Unlock()
	if rec != nil {
		if err := rec.Stop(); err != nil {
			r.log.Error("archive run did not close cleanly", "err", err)
			r.stopErr = fmt.Errorf("session %q: archive: %w", r.spec.ID, err)
		}
	}
	stopMix()
	wg.Wait()
	r.mu.Lock()
	stopped := r.stopped
	r.mu.Unlock()
	if stopped {
		// A rehearsal leaves the session ready for its live run; a live run ends it.
		final := StateEnded
		if r.mode == StateRehearsal {
			final = StateIdle
		}
		r.saveState(m, final)
	}
	r.log.Info("session ended", "after", time.Since(r.started).Round(time.Second))
}

func (r *running) startRecording(m *Manager) {
	// Not while the points change: the run starts with the points of before
	// or after the change, and a change after it goes to the run.
	r.change.Lock()
	defer r.change.Unlock()
	r.mu.Lock()
	streams := make(map[string]*pipeline.Stream, len(r.inputs)+1)
	for src, s := range r.inputs {
		streams["sources/"+src] = s
	}
	r.mu.Unlock()
	if r.mixer != nil {
		streams["composite"] = r.mixer.Archive()
	}
	rec, err := m.deps.Recorder.StartRun(r.spec.ID, streams)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		// The session goes on without its record; status and log say so.
		r.log.Error("recording did not start", "err", err)
		r.recErr = err.Error()
		return
	}
	r.recording = rec
}

func (r *running) saveState(m *Manager, state string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.deps.SaveState(ctx, r.spec.ID, state, time.Now().UTC()); err != nil {
		r.log.Error("saving session state", "state", state, "err", err)
	}
}

func (r *running) status() Live {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := Live{Mode: r.mode, StartedAt: r.started}
	if r.recording != nil {
		l.Recording = r.recording.Status()
	}
	if r.recErr != "" {
		l.Recording.Error = r.recErr
	}
	if r.mixer != nil {
		st := r.mixer.Stats()
		l.Mixer = &st
	}
	l.Error = r.mixErr
	return l
}
