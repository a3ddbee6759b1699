package mixer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// ErrUnknownPoint is wrapped by controls naming a point not in the session.
var ErrUnknownPoint = errors.New("no such point")

// tickEvery paces the owner's housekeeping: slates, branch retries, bus.
const tickEvery = 100 * time.Millisecond

// Mixer is one session's composite. Build it with New, run it with Run;
// the output streams exist from New on, so readers can attach before Run,
// and are closed when Run returns. Controls (SetLayout, SetPoint) may be
// called from any goroutine at any time: they are recorded and applied by
// the goroutine that owns the pipeline.
type Mixer struct {
	cfg Config
	log *slog.Logger
	reg gst.Registry
	out *outputs

	latency   *latency
	inputReqs chan inputRequest
	notify    chan struct{}
	ran       atomic.Bool

	mu    sync.Mutex
	want  controls // what the operator asked for; guarded by mu
	inMix []bool   // slots the owner has in the pipeline; guarded by mu
	gen   uint64   // the last slot generation handed out; guarded by mu
	// bootGens are the generations of the configured points, in slots
	// 0..n-1, which the pipeline holds from its start.
	bootGens []uint64

	// Set while Run runs; read by Stats and the streaming goroutines.
	mix             atomic.Pointer[gst.Mix]
	encoder         atomic.Pointer[gst.VideoEncoder]
	lowEncoder      atomic.Pointer[gst.VideoEncoder] // the low rendition's, with one
	lowTimes        monotonic                        // the low encoder's pull goroutine only
	lowFrames       atomic.Uint64
	decoder         atomic.Pointer[gst.Choice] // what new H.264 branches decode with
	decoderRestarts atomic.Uint64
	times           monotonic // encoder pull goroutine only
	timeSteps       atomic.Uint64
	frames          atomic.Uint64
	encoderRestarts atomic.Uint64
	feedDropped     []atomic.Uint64 // per point: video skipped to resync after a gap
	// Per slot, for points with a sub-stream (feedchoice.go): the tile's
	// size (owner writes, feeders read), the feed in use (-1 none yet, else
	// feedMain/feedSub), switches between them and the last switch's gap
	// on the mix's timeline.
	tileSize      []atomic.Uint64
	feedInUse     []atomic.Int32
	feedSwitches  []atomic.Uint64
	feedSwitchGap []atomic.Int64
	statsMu       sync.Mutex
	points        []PointStats // by slot; guarded by statsMu
	order         []int        // slots in tile order, as last applied; guarded by statsMu
	fps           float64      // guarded by statsMu
	fpsAt         time.Time    // guarded by statsMu
	fpsFrames     uint64       // guarded by statsMu
}

// New validates cfg and makes the output streams; it starts nothing. reg
// is asked for the next encoder when one fails at run time; nil means the
// installed GStreamer.
func New(cfg Config, log *slog.Logger, reg gst.Registry) (*Mixer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mixer %q: %w", cfg.Session, err)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "mixer", "session", cfg.Session)
	if reg == nil {
		reg = gst.NewRegistry(log)
	}
	n := cfg.MaxPoints
	m := &Mixer{
		cfg:           cfg,
		log:           log,
		reg:           reg,
		latency:       newLatency(n),
		inputReqs:     make(chan inputRequest, 4*n),
		notify:        make(chan struct{}, 1),
		inMix:         make([]bool, n),
		points:        make([]PointStats, n),
		feedDropped:   make([]atomic.Uint64, n),
		tileSize:      make([]atomic.Uint64, n),
		feedInUse:     make([]atomic.Int32, n),
		feedSwitches:  make([]atomic.Uint64, n),
		feedSwitchGap: make([]atomic.Int64, n),
		times:         newMonotonic(),
		lowTimes:      newMonotonic(),
	}
	if cfg.Decoder.Fragment != "" {
		d := cfg.Decoder
		m.decoder.Store(&d)
	}
	m.out = newOutputs(cfg, log, m.requestKeyframe, m.runningTime)
	if asc, err := gst.MixAACConfig(); err == nil {
		m.out.useAACConfig(asc)
	} else {
		m.log.Warn("archive sound config not known before its first frame", "error", err)
	}
	if m.out.low != nil {
		m.out.low.SetKeyframeRequester(m.requestLowKeyframe)
		m.out.lowKeyReq = m.requestLowKeyframe
	}
	m.want = m.initialControls()
	m.noteTiles(m.want)
	for i, p := range cfg.Points {
		m.points[i].ID = p.ID
		m.order = append(m.order, i)
	}
	return m, nil
}

// Composite is the composite picture with the full audio mix (Opus): for
// WHEP viewers and the RTSP re-serve.
func (m *Mixer) Composite() *pipeline.Stream { return m.out.composite }

// Low is the low rendition (Config.Output.Low): the same composite pictures
// encoded smaller, with the full mix in Opus; nil without one.
func (m *Mixer) Low() *pipeline.Stream { return m.out.low }

// LowReturnFeed is point's return feed in the low rendition (the low
// pictures with its mix-minus); nil without a low rendition or for a
// point not taking part.
func (m *Mixer) LowReturnFeed(point string) *pipeline.Stream {
	return m.pointFeed(point, m.out.lowReturnFeed)
}

// Archive is the composite picture with the full mix as AAC, for the
// recorder (MP4 players expect AAC).
func (m *Mixer) Archive() *pipeline.Stream { return m.out.archive }

// ReturnFeed is the composite picture with point's mix-minus (everyone but
// itself), for that studio; nil for a point not taking part. It ends when
// the point leaves.
func (m *Mixer) ReturnFeed(point string) *pipeline.Stream {
	return m.pointFeed(point, m.out.returnFeed)
}

// pointFeed is feed of the slot point takes; nil for a point not taking
// part.
func (m *Mixer) pointFeed(point string, feed func(slot int) *pipeline.Stream) *pipeline.Stream {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.want.slotOf(point); s >= 0 {
		return feed(s)
	}
	return nil
}

// Run builds the composite and runs it until ctx ends (nil) or the
// composite itself fails (the error). Point failures never end it. It
// returns after everything it started has stopped, and closes the streams.
func (m *Mixer) Run(ctx context.Context) error {
	if m.ran.Swap(true) {
		return fmt.Errorf("mixer %q: Run called twice", m.cfg.Session)
	}
	defer m.out.close()
	o := m.cfg.Output
	// The configured points are parsed with the pipeline, in slots
	// 0..n-1; the owner adds and removes the rest as the controls say.
	mix, err := gst.NewMix(gst.MixSpec{
		Width: o.Width, Height: o.Height, FPS: o.FPS, Points: len(m.cfg.Points), Slots: m.cfg.MaxPoints,
		Font: m.cfg.Font, Decoder: m.decoderChoice().Fragment,
	}, gst.MixSinks{OpusAll: m.out.writeOpus, AACAll: m.out.writeAAC, MixMinus: m.out.writeMixMinus}, m.log)
	if err != nil {
		return fmt.Errorf("mixer %q: %w", m.cfg.Session, err)
	}
	if err := mix.Start(); err != nil {
		return fmt.Errorf("mixer %q: %w", m.cfg.Session, err)
	}
	m.mix.Store(mix)
	m.log.Info("composite started", "size", fmt.Sprintf("%dx%d", o.Width, o.Height), "fps", o.FPS,
		"points", len(m.cfg.Points), "encoder", m.cfg.Encoder.Element)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return m.runEncoder(gctx, mix, m.mainRendition()) })
	if m.out.low != nil {
		g.Go(func() error { return m.runEncoder(gctx, mix, m.lowRendition()) })
	}
	var feeders sync.WaitGroup
	runErr := m.own(gctx, mix, &feeders)
	if runErr != nil {
		m.log.Error("composite failed", "error", runErr)
	}
	// The feeders and the encoder stop with the context (the encoder
	// flushes while the composite still runs); then the owner stops the
	// composite, with nothing left pushing into it.
	cancel()
	feeders.Wait()
	if err := g.Wait(); err != nil && runErr == nil && ctx.Err() == nil {
		runErr = fmt.Errorf("mixer %q: %w", m.cfg.Session, err)
	}
	mix.Stop()
	m.mix.Store(nil)
	m.log.Info("composite stopped")
	return runErr
}

// runningTime is the composite's running time, or -1 when not running.
func (m *Mixer) runningTime() time.Duration {
	if mix := m.mix.Load(); mix != nil {
		return mix.RunningTime()
	}
	return -1
}
