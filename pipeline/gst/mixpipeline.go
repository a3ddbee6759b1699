package gst

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"

	"diemcau/pipeline"
)

// MixSinks receive the encoded audio mixes, each on its own pull goroutine.
type MixSinks struct {
	OpusAll  func(Sample)              // the full mix, Opus
	AACAll   func(Sample)              // the full mix, AAC (for the archive)
	MixMinus func(point int, s Sample) // everyone but point, Opus
}

// MixEvent is a problem the pipeline reported on its bus.
type MixEvent struct {
	// Point and Kind name the input branch it came from; Point is -1 for the
	// composite itself, which is then broken.
	Point   int
	Kind    pipeline.Kind
	Element string
	Err     error
	Warning bool
}

// MixTile places one point's picture on the composite.
type MixTile struct {
	X, Y, W, H int
	Z          int
	Visible    bool
}

// Mix is one composite pipeline (see MixSpec). One goroutine, its owner,
// calls Start, Stop, Poll, AddPoint, RemovePoint, LastPicture and the Set*
// methods; Input(…).Push, RunningTime, RawCounts and SetEncoder are safe
// from any goroutine.
type Mix struct {
	spec         MixSpec
	sinks        MixSinks
	log          *slog.Logger
	stateTimeout time.Duration

	p       *gst.Pipeline
	bus     *gst.Bus
	rawSink *gst.Element

	// Per slot (MixSpec.Slots); the elements of an absent slot are nil,
	// except its label, which the core pipeline always has.
	present                     []bool
	videoPads, slatePads        []*gst.Pad
	labels, slateTexts, volumes []*gst.Element
	vinlets, ainlets            []*gst.Element
	tileScalers, slateScalers   []*gst.Element // capsfilters of each slot's picture and slate sizes
	tileCapsSet, slateCapsSet   []string       // what each was last set to
	mmValves                    []*gst.Element // before each mix-minus's encoder
	mmListened                  []bool         // whether each valve is open
	watches                     []*padWatch
	tiles                       []MixTile
	slateOn                     []bool
	labelFonts                  []string
	branches                    [][2]*mixBranch
	inputs                      [][2]*MixInput
	owners                      map[string]branchRef
	levels                      []Level        // each slot's latest sound reading
	levelPoints                 map[string]int // level element name → slot
	gen                         int
	started                     bool

	// audioOuts are the appsinks of the encoded mixes, replaced as a whole
	// when a point joins or leaves; read by the drain goroutine.
	audioOuts atomic.Pointer[[]*audioOut]

	rawMu                 sync.Mutex // guards the five below
	encoders              [renditions]*VideoEncoder
	raw                   *rawPump
	rawFrames, rawDropped uint64 // final counts, once raw is freed
	lowDropped            uint64

	stopping atomic.Bool
	pulls    sync.WaitGroup
}

// NewMix validates spec; it starts nothing.
func NewMix(spec MixSpec, sinks MixSinks, log *slog.Logger) (*Mix, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("mix: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	spec = spec.withDefaults()
	n := spec.Slots
	m := &Mix{
		spec:         spec,
		sinks:        sinks,
		log:          log.With("component", "gst-mix"),
		stateTimeout: DefaultStateTimeout,
		present:      make([]bool, n),
		videoPads:    make([]*gst.Pad, n),
		slatePads:    make([]*gst.Pad, n),
		slateTexts:   make([]*gst.Element, n),
		volumes:      make([]*gst.Element, n),
		vinlets:      make([]*gst.Element, n),
		ainlets:      make([]*gst.Element, n),
		tileScalers:  make([]*gst.Element, n),
		tileCapsSet:  make([]string, n),
		slateScalers: make([]*gst.Element, n),
		slateCapsSet: make([]string, n),
		mmValves:     make([]*gst.Element, n),
		mmListened:   make([]bool, n),
		watches:      make([]*padWatch, n),
		tiles:        make([]MixTile, n),
		slateOn:      make([]bool, n),
		labelFonts:   make([]string, n),
		branches:     make([][2]*mixBranch, n),
		inputs:       make([][2]*MixInput, n),
		owners:       map[string]branchRef{},
		levels:       make([]Level, n),
		levelPoints:  make(map[string]int, n),
	}
	for i := range n {
		m.levelPoints[mixLevel(i)] = i
	}
	for i := range m.inputs {
		m.inputs[i] = [2]*MixInput{{kind: pipeline.Video}, {kind: pipeline.Audio}}
	}
	return m, nil
}

// Start builds the pipeline and plays it. On error nothing is left running.
func (m *Mix) Start() (err error) {
	Init()
	if m.started {
		return errors.New("mix: started twice")
	}
	m.started = true
	m.p, err = gst.NewPipelineFromString(mixLaunch(m.spec))
	if err != nil {
		return fmt.Errorf("mix: parse: %w", err)
	}
	m.bus = m.p.GetPipelineBus()
	if err := m.lookup(); err != nil {
		return fmt.Errorf("mix: %w", err)
	}
	for i := range m.spec.Points {
		m.slotReady(i)
	}
	m.rawMu.Lock()
	m.raw = newRawPump(m.rawSink)
	for r, e := range m.encoders {
		if e != nil {
			e.attachRaw(m.raw, Rendition(r))
		}
	}
	m.rawMu.Unlock()
	if err := changeState(m.p.Element, gst.StatePlaying, m.stateTimeout); err != nil {
		err = busError(m.bus, err)
		m.stopping.Store(true)
		_ = changeState(m.p.Element, gst.StateNull, m.stateTimeout)
		m.release()
		return fmt.Errorf("mix: start: %w", err)
	}
	// Pulls start only now: an appsink that is not yet playing reports
	// EOS, which would end a pull loop at once.
	m.startPulls()
	return nil
}

func (m *Mix) lookup() error {
	comp, err := m.element(mixCompositor)
	if err != nil {
		return err
	}
	if m.rawSink, err = m.element(mixRawSink); err != nil {
		return err
	}
	for i := range m.spec.Slots {
		label, err := m.element(mixLabel(i))
		if err != nil {
			return err
		}
		m.labels = append(m.labels, label)
	}
	n := m.spec.Points
	for i := range n {
		vp, sp := comp.GetStaticPad(mixVideoPad(i)), comp.GetStaticPad(mixSlatePad(i, n))
		if vp == nil || sp == nil {
			return fmt.Errorf("compositor pads of point %d missing", i)
		}
		m.videoPads[i], m.slatePads[i] = vp, sp
		if err := m.lookupSlot(i); err != nil {
			return err
		}
	}
	return nil
}

// lookupSlot finds the elements of point's slot that the owner drives.
func (m *Mix) lookupSlot(point int) error {
	for _, x := range []struct {
		list []*gst.Element
		name string
	}{
		{m.slateTexts, mixSlateText(point)}, {m.volumes, mixVolume(point)},
		{m.vinlets, mixVideoInlet(point)}, {m.ainlets, mixAudioInlet(point)},
		{m.tileScalers, mixVideoCaps(point)}, {m.slateScalers, mixSlateCaps(point)},
		{m.mmValves, mixMinusValve(point)},
	} {
		e, err := m.element(x.name)
		if err != nil {
			return err
		}
		x.list[point] = e
	}
	return nil
}

// slotReady finishes a slot whose elements are in the pipeline: hidden
// until the owner places its tile, its pictures watched.
func (m *Mix) slotReady(point int) {
	m.present[point] = true
	m.tiles[point], m.slateOn[point] = MixTile{}, false
	m.tileCapsSet[point] = tileCaps(MixTile{}) // as the slot was made
	m.slateCapsSet[point] = slateCaps(m.spec, false)
	m.mmListened[point] = true // its valve starts open
	m.levels[point] = Level{}
	m.setPad(m.videoPads[point], MixTile{}, 0)
	m.setPad(m.slatePads[point], MixTile{}, 0)
	m.watches[point] = watchPad(m.videoPads[point])
}

func (m *Mix) element(name string) (*gst.Element, error) {
	e, err := m.p.GetElementByName(name)
	if err != nil || e == nil {
		return nil, fmt.Errorf("element %q missing", name)
	}
	return e, nil
}

// SetEncoder makes e receive the composite pictures (nil: none, and the
// pictures are dropped: the composite never waits for an encoder). Safe
// from any goroutine.
func (m *Mix) SetEncoder(e *VideoEncoder) { m.SetRenditionEncoder(Main, e) }

// SetRenditionEncoder makes e receive the composite pictures for rendition
// r: the low rendition's encoder gets the very same pictures as the main
// one (and scales them itself). Safe from any goroutine.
func (m *Mix) SetRenditionEncoder(r Rendition, e *VideoEncoder) {
	if r < 0 || r >= renditions {
		return
	}
	m.rawMu.Lock()
	defer m.rawMu.Unlock()
	if old := m.encoders[r]; old != nil && old != e {
		old.detachRaw()
	}
	m.encoders[r] = e
	if m.raw == nil {
		return // not started, or stopped
	}
	if e != nil {
		e.attachRaw(m.raw, r)
	} else {
		m.raw.set(r, nil, 0)
	}
}

// LowDropped is the composite pictures the low rendition's encoder did not
// take (it was behind) while it had one.
func (m *Mix) LowDropped() uint64 {
	m.rawMu.Lock()
	defer m.rawMu.Unlock()
	if m.raw == nil {
		return m.lowDropped
	}
	return m.raw.lowDropped()
}

// RawCounts are the composite pictures made, and those no encoder took.
func (m *Mix) RawCounts() (frames, dropped uint64) {
	m.rawMu.Lock()
	defer m.rawMu.Unlock()
	if m.raw == nil {
		return m.rawFrames, m.rawDropped
	}
	return m.raw.counts()
}

// RunningTime is the pipeline's running time now, the timeline input
// frames are stamped on; -1 before Start.
func (m *Mix) RunningTime() time.Duration {
	if m.p == nil {
		return -1
	}
	return runningTime(m.p.Element)
}

// LastPicture is how long ago point's last decoded picture reached the
// compositor, and how many have; age -1 before the first. Owner only: the
// watch goes with the point's slot.
func (m *Mix) LastPicture(point int) (age time.Duration, count uint64) {
	if point < 0 || point >= len(m.watches) {
		return -1, 0
	}
	w := m.watches[point]
	if w == nil {
		return -1, 0
	}
	return w.age(), w.count()
}

// Stop ends the pipeline: EOS (bounded wait), then NULL; it waits for the
// pull goroutines. Safe to call twice.
func (m *Mix) Stop() {
	if m.p == nil || m.stopping.Load() {
		m.pulls.Wait()
		return
	}
	m.drainEOS()
	m.stopping.Store(true)
	for i := range m.inputs {
		for _, in := range m.inputs[i] {
			in.detach()
		}
	}
	if err := changeState(m.p.Element, gst.StateNull, m.stateTimeout); err != nil {
		m.log.Error("composite did not stop", "error", err)
	}
	m.pulls.Wait()
	m.release()
}

// release frees the C-side helpers once the pipeline is stopped.
func (m *Mix) release() {
	for i, w := range m.watches {
		if w != nil {
			w.remove()
			m.watches[i] = nil
		}
	}
	m.rawMu.Lock()
	defer m.rawMu.Unlock()
	for _, e := range m.encoders {
		if e != nil {
			e.detachRaw()
		}
	}
	if m.raw != nil {
		// Keep the final counts for RawCounts after the stop.
		m.rawFrames, m.rawDropped = m.raw.counts()
		m.lowDropped = m.raw.lowDropped()
		m.raw.free()
		m.raw = nil
	}
}

// drainEOS lets the encoders flush. The input branches go first: a branch
// fed garbage may never pass EOS on (a parser that found nothing to parse),
// and their last frames do not matter at shutdown. Then EOS goes into
// every inlet by hand and into the pipeline's own sources.
func (m *Mix) drainEOS() {
	for i, ok := range m.present {
		if !ok {
			continue
		}
		m.RemoveInput(i, pipeline.Video)
		m.RemoveInput(i, pipeline.Audio)
		for _, inlet := range []*gst.Element{m.vinlets[i], m.audioEOSFrom(i)} {
			if pad := inlet.GetStaticPad("src"); pad != nil {
				pad.PushEvent(gst.NewEOSEvent())
			}
		}
	}
	m.p.SendEvent(gst.NewEOSEvent())
	if !waitEOS(m.bus, DefaultEOSTimeout) {
		m.log.Warn("composite: no EOS in time; stopping anyway", "timeout", DefaultEOSTimeout)
	}
}
