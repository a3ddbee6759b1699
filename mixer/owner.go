package mixer

import (
	"context"
	"fmt"
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

// pointRun is the owner's view of one point.
type pointRun struct {
	sig      signal
	want     [2]*gst.InputFormat // what its stream carries, per kind
	retryAt  [2]time.Time
	backoff  [2]time.Duration
	failedAt [2]time.Time
}

// own is the owner goroutine of the composite pipeline (DESIGN.md rule 1):
// every change to it — tiles, labels, slates, volumes, input branches —
// happens here. It returns when ctx ends (nil) or the composite fails.
func (m *Mixer) own(ctx context.Context, mix *gst.Mix) error {
	start := time.Now()
	run := make([]pointRun, len(m.cfg.Points))
	var applied controls
	m.apply(mix, &applied, run, true)
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	var lastRaw uint64
	lastRawAt := start
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.notify:
			m.apply(mix, &applied, run, false)
		case req := <-m.inputReqs:
			r := &run[req.point]
			k := kindSlot(req.kind)
			f := req.format
			r.want[k], r.retryAt[k] = &f, time.Time{}
			m.build(mix, req.point, req.kind, r, time.Now())
			close(req.done)
		case now := <-tick.C:
			if err := m.handleBus(mix, run, now); err != nil {
				return err
			}
			for i := range run {
				for _, kind := range []pipeline.Kind{pipeline.Video, pipeline.Audio} {
					m.build(mix, i, kind, &run[i], now)
				}
			}
			m.updateSignals(mix, run, applied, now, start)
			m.updateStats(mix, run, now)
			if raw, _ := mix.RawCounts(); raw != lastRaw {
				lastRaw, lastRawAt = raw, now
			} else if now.Sub(lastRawAt) > compositeStallAfter {
				mix.DumpGraph("diemcau-composite-stalled")
				return fmt.Errorf("composite: no picture for %v: frozen", now.Sub(lastRawAt).Round(time.Second))
			}
		}
	}
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
		m.failed(point, kind, r, now, err)
		return
	}
	m.log.Info("point input ready", "point", m.cfg.Points[point].ID, "kind", kind.String(), "codec", want.Codec)
}

// failed schedules a rebuild of a failed branch after its back-off.
func (m *Mixer) failed(point int, kind pipeline.Kind, r *pointRun, now time.Time, err error) {
	k := kindSlot(kind)
	if now.Sub(r.failedAt[k]) > 4*rebuildLast {
		r.backoff[k] = rebuildFirst // a long good run: start the back-off over
	} else {
		r.backoff[k] = min(2*r.backoff[k], rebuildLast)
	}
	r.failedAt[k], r.retryAt[k] = now, now.Add(r.backoff[k])
	m.log.Warn("point input failed; the others go on", "point", m.cfg.Points[point].ID, "kind", kind.String(),
		"error", err, "retry_in", r.backoff[k])
}

// handleBus reads the pipeline's complaints. A failed branch is taken out
// and rebuilt later; a failure of the composite itself ends Run.
func (m *Mixer) handleBus(mix *gst.Mix, run []pointRun, now time.Time) error {
	warnings := 0
	for _, ev := range mix.Poll() {
		switch {
		case ev.Warning:
			warnings++
		case ev.Point < 0:
			return fmt.Errorf("composite: %s: %w", ev.Element, ev.Err)
		default:
			mix.RemoveInput(ev.Point, ev.Kind)
			m.failed(ev.Point, ev.Kind, &run[ev.Point], now, fmt.Errorf("%s: %w", ev.Element, ev.Err))
		}
	}
	if warnings > 0 {
		m.log.Debug("gstreamer warnings", "count", warnings)
	}
	return nil
}

// apply brings the pipeline in line with the operator's settings. Only
// properties change, so a layout switch neither restarts nor blacks out.
func (m *Mixer) apply(mix *gst.Mix, applied *controls, run []pointRun, force bool) {
	want := m.wanted()
	o := m.cfg.Output
	if force || want.layout != applied.layout || want.focus != applied.focus {
		for i, t := range Arrange(want.layout, len(want.points), want.focus, o.Width, o.Height) {
			mix.SetTile(i, gst.MixTile{X: t.X, Y: t.Y, W: t.W, H: t.H, Z: t.Z, Visible: t.Visible})
		}
		if !force {
			m.log.Info("layout", "layout", want.layout, "focus", m.cfg.Points[want.focus].ID)
		}
	}
	for i, p := range want.points {
		var old pointControl
		if !force {
			old = applied.points[i]
		}
		if force || p.label != old.label {
			mix.SetLabel(i, p.label)
			if run[i].sig.lost {
				mix.SetSlate(i, true, slateText(p.label, run[i].sig.since))
			}
		}
		if force || p.gain != old.gain || p.muted != old.muted {
			mix.SetVolume(i, p.gain, p.muted)
		}
	}
	*applied = want
}

// updateSignals shows the slate of a point whose pictures stopped, and
// takes it away when they come back.
func (m *Mixer) updateSignals(mix *gst.Mix, run []pointRun, c controls, now, start time.Time) {
	for i := range run {
		age, _ := mix.LastPicture(i)
		s := &run[i].sig
		if !s.update(now, age, start) {
			continue
		}
		id := m.cfg.Points[i].ID
		if s.lost {
			mix.SetSlate(i, true, slateText(c.points[i].label, s.since))
			m.log.Warn("signal lost", "point", id, "since", s.since.Format(time.RFC3339))
		} else {
			mix.SetSlate(i, false, "")
			m.log.Info("signal back", "point", id)
		}
	}
}
