package sessions

import (
	"errors"
	"fmt"
	"slices"

	"diemcau/pipeline"
)

// ErrCompositeFull is wrapped when a running composite has no room for
// another point (Composite.AddPoint's error wraps it too).
var ErrCompositeFull = errors.New("the composite has no room for another point")

// SetPoints changes who takes part in a running session, without
// restarting anything: points that left leave the composite (and their
// return feeds end), new ones join it, points whose source changed leave
// and join again, the others take their new label and audio; tiles follow
// the order of points. For a live run the archive follows the sources:
// a new one is recorded from now on, one no point uses any more is closed.
// Not running: nothing to do (the store holds the points for the next
// start). The streams of new sources are resolved before anything changes,
// so an unknown source changes nothing.
func (m *Manager) SetPoints(id string, points []Point) error {
	r, ok := m.get(id)
	if !ok {
		return nil
	}
	if err := r.setPoints(m, points); err != nil {
		return fmt.Errorf("session %q: %w", id, err)
	}
	return nil
}

func (r *running) setPoints(m *Manager, points []Point) error {
	if len(points) == 0 {
		return errors.New("points: a running session keeps at least one")
	}
	r.change.Lock()
	defer r.change.Unlock()
	r.mu.Lock()
	old := slices.Clone(r.spec.Points)
	r.mu.Unlock()

	before := map[string]Point{}
	for _, p := range old {
		before[p.ID] = p
	}
	streams := map[string]*pipeline.Stream{} // by source, for what joins
	var joins, leaves, updates []Point
	after := map[string]bool{}
	for _, p := range points {
		after[p.ID] = true
		o, had := before[p.ID]
		switch {
		case !had || o.Source != p.Source:
			if had {
				leaves = append(leaves, o)
			}
			joins = append(joins, p)
			if _, ok := streams[p.Source]; !ok {
				s, ok := m.deps.Stream(p.Source)
				if !ok {
					return fmt.Errorf("point %q: no source %q", p.ID, p.Source)
				}
				streams[p.Source] = s
			}
		case o != p:
			updates = append(updates, p)
		}
	}
	for _, o := range old {
		if !after[o.ID] {
			leaves = append(leaves, o)
		}
	}

	if r.mixer != nil {
		if err := r.changeComposite(len(old), joins, leaves, updates, streams, points); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.spec.Points = slices.Clone(points)
	inputs := make(map[string]*pipeline.Stream, len(points))
	for _, p := range points {
		if s, ok := streams[p.Source]; ok {
			inputs[p.Source] = s
		} else {
			inputs[p.Source] = r.inputs[p.Source]
		}
	}
	r.inputs = inputs
	rec := r.recording
	r.mu.Unlock()
	r.changeRecording(rec, old, points, streams)
	r.log.Info("points changed while running", "joined", len(joins), "left", len(leaves), "updated", len(updates))
	return nil
}

// changeComposite applies a change of points to the mixer, which holds
// current points now: leaving points go first (so their slots are free)
// while at least one point stays; then the joins, the remaining leaves,
// the updates and the order.
func (r *running) changeComposite(current int, joins, leaves, updates []Point, streams map[string]*pipeline.Stream, points []Point) error {
	pending := slices.Clone(leaves)
	removeOne := func() error {
		p := pending[0]
		pending = pending[1:]
		if err := r.mixer.RemovePoint(p.ID); err != nil {
			return fmt.Errorf("point %q: leave the composite: %w", p.ID, err)
		}
		current--
		return nil
	}
	for len(pending) > 0 && current > 1 {
		if err := removeOne(); err != nil {
			return err
		}
	}
	for _, p := range joins {
		for {
			err := r.mixer.AddPoint(p, streams[p.Source])
			if err == nil {
				current++
				break
			}
			if !errors.Is(err, ErrCompositeFull) || len(pending) == 0 {
				return fmt.Errorf("point %q: join the composite: %w", p.ID, err)
			}
			if err := removeOne(); err != nil {
				return err
			}
		}
	}
	for len(pending) > 0 {
		if err := removeOne(); err != nil {
			return err
		}
	}
	for _, p := range updates {
		if err := r.mixer.SetPoint(p); err != nil {
			return fmt.Errorf("point %q: %w", p.ID, err)
		}
	}
	ids := make([]string, len(points))
	for i, p := range points {
		ids[i] = p.ID
	}
	return r.mixer.Reorder(ids)
}

// changeRecording records the sources that joined and closes those no
// point uses any more. A failure is logged and shown in the status: the
// session goes on, as when its recording could not start.
func (r *running) changeRecording(rec Recording, old, points []Point, streams map[string]*pipeline.Stream) {
	if rec == nil {
		return
	}
	used := func(ps []Point) map[string]bool {
		out := map[string]bool{}
		for _, p := range ps {
			out[p.Source] = true
		}
		return out
	}
	was, is := used(old), used(points)
	for src := range is {
		if !was[src] {
			if err := rec.AddStream("sources/"+src, streams[src]); err != nil {
				r.noteRecordingError(err)
			}
		}
	}
	for src := range was {
		if !is[src] {
			if err := rec.RemoveStream("sources/" + src); err != nil {
				r.noteRecordingError(err)
			}
		}
	}
}

func (r *running) noteRecordingError(err error) {
	r.log.Error("archive did not follow the change of points", "err", err)
	r.mu.Lock()
	r.recErr = err.Error()
	r.mu.Unlock()
}
