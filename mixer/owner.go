package mixer

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// Rebuilding a point's branch after it failed (garbage, an unsupported
// stream) backs off from the first to the last delay, so a broken camera
// costs a rebuild every few seconds at most, and one log line each.
const (
	rebuildFirst = 500 * time.Millisecond
	rebuildLast  = 8 * time.Second
)

// compositeStallAfter: a compositor that makes no picture for this long is
// frozen; Run reports it rather than serving a still picture forever.
const compositeStallAfter = 5 * time.Second

// joinRetry: a point whose slot could not be added to the pipeline is
// tried again after this long.
const joinRetry = 2 * time.Second

// pointRun is the owner's view of one slot.
type pointRun struct {
	id     string
	gen    uint64        // the joining this slot holds; 0 when free
	stop   func()        // ends the feeder
	done   chan struct{} // closed when the feeder has returned
	joined time.Time     // when it took the slot: its signal is judged from then

	sig      signal
	sound    sound
	want     [2]*gst.InputFormat // what its stream carries, per kind
	retryAt  [2]time.Time
	backoff  [2]time.Duration
	failedAt [2]time.Time
	joinAt   time.Time // a failed join is retried from then
}

// own is the owner goroutine of the composite pipeline (docs/architecture.md rule 1):
// every change to it — points joining and leaving, tiles, labels, slates,
// volumes, input branches — happens here. Feeders it starts are counted in
// feeders. It returns when ctx ends (nil) or the composite fails.
func (m *Mixer) own(ctx context.Context, mix *gst.Mix, feeders *sync.WaitGroup) error {
	start := time.Now()
	run := make([]pointRun, m.cfg.MaxPoints)
	// The configured points came up with the pipeline; feed those still
	// wanted (reconcile takes out the others).
	want := m.wanted()
	for i, gen := range m.bootGens {
		m.setInMix(i, true)
		run[i].gen = gen
		if w := want.points[i]; w.gen == gen {
			m.startFeed(ctx, mix, i, w, &run[i], feeders)
		}
	}
	defer func() {
		for i := range run {
			if run[i].stop != nil {
				run[i].stop()
			}
		}
	}()
	var applied controls
	m.reconcile(ctx, mix, run, &applied, feeders, start)
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	var lastRaw uint64
	lastRawAt := start
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.notify:
			m.reconcile(ctx, mix, run, &applied, feeders, time.Now())
		case req := <-m.inputReqs:
			r := &run[req.point]
			if r.gen != req.gen || !mix.HasPoint(req.point) {
				close(req.done) // from a point that has left
				continue
			}
			k := kindSlot(req.kind)
			f := req.format
			r.want[k], r.retryAt[k] = &f, time.Time{}
			m.build(mix, req.point, req.kind, r, time.Now())
			close(req.done)
		case now := <-tick.C:
			if err := m.handleBus(mix, run, now); err != nil {
				return err
			}
			m.reconcile(ctx, mix, run, &applied, feeders, now) // joins to retry
			for i := range run {
				if !mix.HasPoint(i) {
					continue
				}
				for _, kind := range []pipeline.Kind{pipeline.Video, pipeline.Audio} {
					m.build(mix, i, kind, &run[i], now)
				}
			}
			m.updateSignals(mix, run, applied, now)
			m.updateSounds(mix, run, applied, now)
			m.updateListeners(mix)
			m.updateStats(mix, run, applied.order, now)
			if raw, _ := mix.RawCounts(); raw != lastRaw {
				lastRaw, lastRawAt = raw, now
			} else if now.Sub(lastRawAt) > compositeStallAfter {
				mix.DumpGraph("diemcau-composite-stalled")
				return fmt.Errorf("composite: no picture for %v: frozen", now.Sub(lastRawAt).Round(time.Second))
			}
		}
	}
}

// reconcile brings the pipeline in line with the controls: points leave
// and join, then tiles, labels and volumes follow.
func (m *Mixer) reconcile(ctx context.Context, mix *gst.Mix, run []pointRun, applied *controls, feeders *sync.WaitGroup, now time.Time) {
	want := m.wanted()
	for s := range run {
		w, r := want.points[s], &run[s]
		if mix.HasPoint(s) && r.gen != w.gen {
			m.leave(mix, s, r)
		}
		if w.gen != 0 && r.gen != w.gen && !now.Before(r.joinAt) {
			m.join(ctx, mix, s, w, r, feeders, now)
		}
	}
	m.apply(mix, applied, run, want)
}

// join puts a point into the pipeline and starts feeding it.
func (m *Mixer) join(ctx context.Context, mix *gst.Mix, slot int, w pointControl, r *pointRun, feeders *sync.WaitGroup, now time.Time) {
	if !mix.HasPoint(slot) {
		if err := mix.AddPoint(slot); err != nil {
			r.joinAt = now.Add(joinRetry)
			m.log.Error("point could not join the composite; retrying", "point", w.id, "error", err, "retry_in", joinRetry)
			return
		}
		m.setInMix(slot, true)
		m.log.Info("point joined", "point", w.id, "slot", slot)
	}
	m.startFeed(ctx, mix, slot, w, r, feeders)
}

// startFeed starts the feeder of the point that holds slot.
func (m *Mixer) startFeed(ctx context.Context, mix *gst.Mix, slot int, w pointControl, r *pointRun, feeders *sync.WaitGroup) {
	*r = pointRun{id: w.id, gen: w.gen, joined: time.Now()}
	m.feedDropped[slot].Store(0)
	m.feedSwitches[slot].Store(0)
	m.feedSwitchGap[slot].Store(0)
	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	r.stop, r.done = stop, done
	feeders.Add(1)
	go func() {
		defer feeders.Done()
		defer close(done)
		m.feed(fctx, slot, w.gen, w.id, w.stream, w.sub, mix)
	}()
}

// leave stops a point's feeder and takes its slot out of the pipeline.
func (m *Mixer) leave(mix *gst.Mix, slot int, r *pointRun) {
	if r.stop != nil {
		r.stop()
		<-r.done
	}
	mix.RemovePoint(slot)
	m.setInMix(slot, false)
	m.log.Info("point left", "point", r.id, "slot", slot)
	if r.sound.audio.Silent {
		m.log.Info("point no longer silent", "point", r.id, "because", "left the session")
	}
	*r = pointRun{}
}

// build makes sure point's branch of kind decodes what the point sends,
// unless a failed build is waiting out its back-off.
func (m *Mixer) build(mix *gst.Mix, point int, kind pipeline.Kind, r *pointRun, now time.Time) {
	k := kindSlot(kind)
	want := r.want[k]
	if want == nil || now.Before(r.retryAt[k]) {
		return
	}
	if have, ok := mix.HasInput(point, kind); ok && have.Key() == want.Key() {
		return
	}
	if err := mix.SetInput(point, kind, *want); err != nil {
		m.failed(mix, point, kind, r, now, err)
		return
	}
	m.log.Info("point input ready", "point", r.id, "kind", kind.String(), "codec", want.Codec)
}

// failed schedules a rebuild of a failed branch after its back-off.
func (m *Mixer) failed(mix *gst.Mix, point int, kind pipeline.Kind, r *pointRun, now time.Time, err error) {
	k := kindSlot(kind)
	if now.Sub(r.failedAt[k]) > 4*rebuildLast {
		r.backoff[k] = rebuildFirst // a long good run: start the back-off over
	} else {
		r.backoff[k] = min(2*r.backoff[k], rebuildLast)
	}
	r.failedAt[k], r.retryAt[k] = now, now.Add(r.backoff[k])
	m.log.Warn("point input failed; the others go on", "point", r.id, "kind", kind.String(),
		"error", err, "retry_in", r.backoff[k])
	if w := r.want[k]; kind == pipeline.Video && w != nil && w.Codec == pipeline.H264 {
		m.decoderFailed(mix, r)
	}
}

// handleBus reads the pipeline's complaints. A failed branch is taken out
// and rebuilt later; a failure of the composite itself ends Run.
func (m *Mixer) handleBus(mix *gst.Mix, run []pointRun, now time.Time) error {
	warnings := 0
	// A failing branch often posts several errors (the element, then its
	// source stopping); the first one says why, the others change nothing.
	var failed [][2]int
	for _, ev := range mix.Poll() {
		branch := [2]int{ev.Point, kindSlot(ev.Kind)}
		switch {
		case ev.Warning:
			warnings++
		case ev.Point < 0:
			return fmt.Errorf("composite: %s: %w", ev.Element, ev.Err)
		case slices.Contains(failed, branch):
		default:
			failed = append(failed, branch)
			mix.RemoveInput(ev.Point, ev.Kind)
			m.failed(mix, ev.Point, ev.Kind, &run[ev.Point], now, fmt.Errorf("%s: %w", ev.Element, ev.Err))
		}
	}
	if warnings > 0 {
		m.log.Debug("gstreamer warnings", "count", warnings)
	}
	return nil
}

// apply brings the pipeline's looks and sound in line with the operator's
// settings. Only properties change, so a layout switch neither restarts
// nor blacks out.
func (m *Mixer) apply(mix *gst.Mix, applied *controls, run []pointRun, want controls) {
	o := m.cfg.Output
	if want.layout != applied.layout || want.focus != applied.focus || !slices.Equal(want.order, applied.order) {
		for i, t := range Arrange(want.layout, len(want.order), want.focusIndex(), o.Width, o.Height) {
			if s := want.order[i]; mix.HasPoint(s) {
				mix.SetTile(s, gst.MixTile{X: t.X, Y: t.Y, W: t.W, H: t.H, Z: t.Z, Visible: t.Visible})
			}
		}
		m.noteTiles(want)
		if applied.points != nil {
			m.log.Info("layout", "layout", want.layout, "focus", want.points[want.focus].id, "points", len(want.order))
		}
	}
	for _, s := range want.order {
		p := want.points[s]
		if !mix.HasPoint(s) || run[s].gen != p.gen {
			continue
		}
		var old pointControl
		if applied.points != nil {
			old = applied.points[s]
		}
		fresh := old.gen != p.gen // joined since the last apply
		if fresh || p.label != old.label {
			mix.SetLabel(s, p.label)
			if run[s].sig.lost {
				mix.SetSlate(s, true, slateText(p.label, run[s].sig.since))
			}
		}
		if fresh || p.gain != old.gain || p.muted != old.muted {
			mix.SetVolume(s, p.gain, p.muted)
		}
	}
	// A point that has not joined yet is applied in full once it has.
	for _, s := range want.order {
		if !mix.HasPoint(s) || run[s].gen != want.points[s].gen {
			want.points[s].gen = 0
			want.order = slices.DeleteFunc(slices.Clone(want.order), func(x int) bool { return x == s })
		}
	}
	*applied = want
}

// updateSignals shows the slate of a point whose pictures stopped, and
// takes it away when they come back.
func (m *Mixer) updateSignals(mix *gst.Mix, run []pointRun, c controls, now time.Time) {
	for i := range run {
		if !mix.HasPoint(i) || run[i].gen == 0 {
			continue
		}
		age, _ := mix.LastPicture(i)
		s := &run[i].sig
		if !s.update(now, age, run[i].joined) {
			continue
		}
		id := run[i].id
		if s.lost {
			mix.SetSlate(i, true, slateText(c.points[i].label, s.since))
			m.log.Warn("signal lost", "point", id, "since", s.since.Format(time.RFC3339))
		} else {
			mix.SetSlate(i, false, "")
			m.log.Info("signal back", "point", id)
		}
	}
}
