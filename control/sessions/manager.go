// Package sessions runs citizen-reception sessions: it starts a session's
// composite and, for a live run, its archive; applies layout and audio
// changes at once; and stops everything cleanly. The HTTP layer and the
// scheduler call it; it owns every goroutine of every running session.
package sessions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"diemcau/pipeline"
)

// Session states, as the API shows them.
const (
	StateIdle      = "idle"
	StateRehearsal = "rehearsal"
	StateLive      = "live"
	StateEnded     = "ended"
)

// Errors callers tell apart with errors.Is.
var (
	ErrRunning    = errors.New("session is already running")
	ErrNotRunning = errors.New("session is not running")
	ErrStopping   = errors.New("server is stopping")
)

// Point is one bridge point of a session.
type Point struct {
	ID, Source, Role, Label string
	Gain                    float64
	Muted                   bool
}

// Output is the composite's picture and bitrate.
type Output struct{ Width, Height, FPS, BitrateKbps int }

// Spec is everything a running session needs.
type Spec struct {
	ID, Title     string
	Layout, Focus string
	Output        Output
	Record        bool
	Points        []Point
}

// Composite is a running mixer as the manager sees it.
type Composite interface {
	Run(ctx context.Context) error
	// Composite is video with the full mix as Opus (for WebRTC).
	Composite() *pipeline.Stream
	// Archive is the same video with the full mix as AAC (archive, RTSP).
	Archive() *pipeline.Stream
	ReturnFeed(pointID string) *pipeline.Stream
	SetLayout(layout, focus string) error
	SetPoint(p Point) error
	// AddPoint and RemovePoint change who takes part while it runs;
	// AddPoint wraps ErrCompositeFull when there is no room. Reorder puts
	// the tiles in the order of ids (the points taking part).
	AddPoint(p Point, s *pipeline.Stream) error
	RemovePoint(id string) error
	Reorder(ids []string) error
	Stats() CompositeStats
}

// CompositeStats are the mixer figures of a session's status.
type CompositeStats struct {
	FPS     float64 `json:"fps"`
	Encoder string  `json:"encoder"`
	// Decoder is the H.264 decoder of the points' pictures; it changes when
	// a hardware one fails at run time.
	Decoder string `json:"decoder,omitempty"`
	Dropped uint64 `json:"dropped"`
	// EncoderRestarts and DecoderRestarts count run-time fallbacks to the
	// next codec; TimeSteps the compositor's timeline stepping back.
	EncoderRestarts uint64 `json:"encoder_restarts"`
	DecoderRestarts uint64 `json:"decoder_restarts"`
	TimeSteps       uint64 `json:"time_steps"`
	// LatencyP50Ms, P95 and P99 are the mix's own delay, point frame in
	// to composite frame out.
	LatencyP50Ms float64 `json:"latency_p50_ms"`
	LatencyP95Ms float64 `json:"latency_p95_ms"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
	// Points is what the composite receives from each point; the API shows
	// it as the point's state.
	Points []PointSignal `json:"-"`
}

// PointSignal is one point's picture and sound as the composite receives
// them.
type PointSignal struct {
	ID string
	// Live: pictures arriving; false, the tile shows its slate.
	Live bool
	// Pictures is the decoded pictures that reached the compositor.
	Pictures uint64
	// Feed is the stream its tile decodes: "main", or "sub" for its
	// camera's sub-stream; "" before the first picture.
	Feed string
	// Sound is its sound as the mix hears it (sound.go).
	Sound PointSound
}

// MixerFactory makes the composite of a session from its points' streams.
type MixerFactory func(spec Spec, inputs map[string]*pipeline.Stream) (Composite, error)

// Recording is one live run being archived.
type Recording interface {
	Stop() error
	Status() RecordingStatus
	// AddStream and RemoveStream follow points joining and leaving.
	AddStream(name string, s *pipeline.Stream) error
	RemoveStream(name string) error
}

// RecordingStatus is the recording part of a session's status.
type RecordingStatus struct {
	Active   bool   `json:"active"`
	Run      string `json:"run,omitempty"`
	Bytes    int64  `json:"bytes"`
	Segments int    `json:"segments"`
	// DiskStopped: recording paused for lack of disk; Error says why.
	DiskStopped bool   `json:"disk_stopped"`
	Error       string `json:"error,omitempty"`
	// FsyncP99Ms is the slowest percent of fragment fsyncs, recently.
	FsyncP99Ms float64 `json:"fsync_p99_ms"`
}

// Recorder starts archive runs. streams are named "composite" and
// "sources/{source-id}".
type Recorder interface {
	StartRun(sessionID string, streams map[string]*pipeline.Stream) (Recording, error)
}

// Deps are what the manager drives. Mixer, Recorder and Serve may be nil:
// a server without GStreamer still records and re-serves single feeds.
type Deps struct {
	// Stream returns the stream of a source.
	Stream func(sourceID string) (*pipeline.Stream, bool)
	// SaveState records a state change (the store).
	SaveState func(ctx context.Context, id, state string, at time.Time) error
	Mixer     MixerFactory
	Recorder  Recorder
	// Serve publishes a stream on the RTSP server; the returned func removes it.
	Serve func(path string, s *pipeline.Stream) func()
}

// Manager runs sessions. Start, Stop and the setters are safe from any
// goroutine; each running session's goroutines are children of Run.
type Manager struct {
	log  *slog.Logger
	deps Deps

	mu       sync.Mutex
	running  map[string]*running
	runCtx   context.Context // parent of every session; cancelled when Run ends
	stopRun  context.CancelFunc
	stopping bool
	wg       sync.WaitGroup
}

// New makes a manager; it starts nothing.
func New(log *slog.Logger, deps Deps) (*Manager, error) {
	if deps.Stream == nil {
		return nil, errors.New("sessions: Deps.Stream is required")
	}
	if deps.SaveState == nil {
		deps.SaveState = func(context.Context, string, string, time.Time) error { return nil }
	}
	// Sessions may start before Run (the boot sequence starts them as soon
	// as the API listens); Run owns them all the same and waits for them.
	runCtx, stopRun := context.WithCancel(context.Background())
	return &Manager{log: log.With("component", "sessions"), deps: deps, running: map[string]*running{}, runCtx: runCtx, stopRun: stopRun}, nil
}

// Run lets sessions start until ctx ends, then stops every running session
// (sealing live archives) and returns when all have stopped.
func (m *Manager) Run(ctx context.Context) error {
	<-ctx.Done()
	m.mu.Lock()
	m.stopping = true
	m.mu.Unlock()
	m.stopRun()
	m.wg.Wait()
	return nil
}

// Start runs a session as a rehearsal (nothing recorded) or live.
func (m *Manager) Start(spec Spec, mode string) error {
	if mode != StateRehearsal && mode != StateLive {
		return fmt.Errorf("mode %q: want rehearsal or live", mode)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopping {
		return ErrStopping
	}
	if _, ok := m.running[spec.ID]; ok {
		return fmt.Errorf("session %q: %w", spec.ID, ErrRunning)
	}
	r, err := m.prepare(spec, mode)
	if err != nil {
		return fmt.Errorf("session %q: %w", spec.ID, err)
	}
	m.running[spec.ID] = r
	// Saved before Start returns, so the caller reads the new state back.
	r.saveState(m, mode)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		r.run(m)
	}()
	return nil
}

// Stop ends a running session and waits until it has stopped (its archive
// sealed). The session's state becomes ended.
func (m *Manager) Stop(id string) error {
	m.mu.Lock()
	r, ok := m.running[id]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("session %q: %w", id, ErrNotRunning)
	}
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.cancel()
	<-r.done
	return r.stopErr
}

// Running reports whether a session runs and in which mode.
func (m *Manager) Running(id string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.running[id]
	if !ok {
		return "", false
	}
	return r.mode, true
}

// SetLayout changes a running session's composite at once.
func (m *Manager) SetLayout(id, layout, focus string) error {
	r, ok := m.get(id)
	if !ok || r.mixer == nil {
		return nil // not running: the store holds the new layout for the next start
	}
	return r.mixer.SetLayout(layout, focus)
}

// SetPoint changes a running session's point audio and label at once.
func (m *Manager) SetPoint(id string, p Point) error {
	r, ok := m.get(id)
	if !ok || r.mixer == nil {
		return nil
	}
	return r.mixer.SetPoint(p)
}

// Stream returns a running session's composite, or a point's return feed.
func (m *Manager) Stream(id, point string) (*pipeline.Stream, error) {
	r, ok := m.get(id)
	if !ok {
		return nil, fmt.Errorf("session %q: %w", id, ErrNotRunning)
	}
	if r.mixer == nil {
		return nil, fmt.Errorf("session %q: no composite on this server (GStreamer mixer unavailable)", id)
	}
	if point == "" {
		return r.mixer.Composite(), nil
	}
	s := r.mixer.ReturnFeed(point)
	if s == nil {
		return nil, fmt.Errorf("session %q: no point %q", id, point)
	}
	return s, nil
}

// Low is a running session's low rendition (its composite encoded
// smaller, for WHEP viewers on thin links) or, with point, that point's
// return feed in it; nil when there is none.
func (m *Manager) Low(id, point string) *pipeline.Stream {
	r, ok := m.get(id)
	if !ok || r.mixer == nil {
		return nil
	}
	if point != "" {
		if l, ok := r.mixer.(interface{ LowReturnFeed(string) *pipeline.Stream }); ok {
			return l.LowReturnFeed(point)
		}
		return nil
	}
	if l, ok := r.mixer.(interface{ Low() *pipeline.Stream }); ok {
		return l.Low()
	}
	return nil
}

// Live is the runtime part of a session's status.
type Live struct {
	Mode      string          `json:"-"`
	StartedAt time.Time       `json:"-"`
	Recording RecordingStatus `json:"recording"`
	Mixer     *CompositeStats `json:"mixer,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// Status returns the runtime figures of a running session.
func (m *Manager) Status(id string) (Live, bool) {
	r, ok := m.get(id)
	if !ok {
		return Live{}, false
	}
	return r.status(), true
}

func (m *Manager) get(id string) (*running, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.running[id]
	return r, ok
}

func (m *Manager) remove(id string) {
	m.mu.Lock()
	delete(m.running, id)
	m.mu.Unlock()
}
