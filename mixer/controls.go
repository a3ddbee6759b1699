package mixer

import (
	"fmt"
	"slices"

	"diemcau/pipeline"
)

// controls are the operator's settings of a composite: which points take
// part, in which slot and order, and how each looks and sounds.
type controls struct {
	layout Layout
	focus  int   // the featured point's slot
	order  []int // the slots taking part, in the order they joined: tile order
	points []pointControl
}

// pointControl is one slot; a free slot has gen 0.
type pointControl struct {
	id     string
	stream *pipeline.Stream
	sub    *pipeline.Stream // nil: none
	label  string
	gain   float64
	muted  bool
	// gen tells one joining of a slot from the next, so the owner rebuilds
	// a slot that was freed and taken again before it looked.
	gen uint64
}

func (c controls) clone() controls {
	c.order = slices.Clone(c.order)
	c.points = slices.Clone(c.points)
	return c
}

// slotOf is the slot of point id, or -1.
func (c *controls) slotOf(id string) int {
	for _, s := range c.order {
		if c.points[s].id == id {
			return s
		}
	}
	return -1
}

// focusIndex is the focus point's place in the tile order.
func (c *controls) focusIndex() int {
	if i := slices.Index(c.order, c.focus); i >= 0 {
		return i
	}
	return 0
}

// PointUpdate changes some of a point's settings (docs/api.md: PATCH
// …/points/{point}); nil fields are left as they are.
type PointUpdate struct {
	Gain  *float64 // linear, 0..10
	Muted *bool
	Label *string
}

// SetLayout switches the composite's layout at once, without restarting
// anything; focus is the featured point ("" keeps the current one).
// Errors name the bad field ("layout", "focus"); an unknown focus wraps
// ErrUnknownPoint.
func (m *Mixer) SetLayout(l Layout, focus string) error {
	if !l.Valid() {
		return fmt.Errorf("layout: %q, want one of %v", l, Layouts())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	slot := -1
	if focus != "" {
		if slot = m.want.slotOf(focus); slot < 0 {
			return fmt.Errorf("focus: %q: %w", focus, ErrUnknownPoint)
		}
	}
	m.want.layout = l
	if slot >= 0 {
		m.want.focus = slot
	}
	m.nudge()
	return nil
}

// Layout returns the current layout and focus point.
func (m *Mixer) Layout() (Layout, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.want.layout, m.want.points[m.want.focus].id
}

// SetPoint changes a point's gain, mute or label. Errors name the field.
func (m *Mixer) SetPoint(id string, u PointUpdate) error {
	if u.Gain != nil && (*u.Gain < 0 || *u.Gain > 10) {
		return fmt.Errorf("gain: %g, want 0..10", *u.Gain)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.want.slotOf(id)
	if s < 0 {
		return fmt.Errorf("point %q: %w", id, ErrUnknownPoint)
	}
	p := &m.want.points[s]
	if u.Gain != nil {
		p.gain = *u.Gain
	}
	if u.Muted != nil {
		p.muted = *u.Muted
	}
	if u.Label != nil {
		p.label = *u.Label
	}
	m.nudge()
	return nil
}

// nudge wakes the owner to apply the new settings.
func (m *Mixer) nudge() {
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

func (m *Mixer) wanted() controls {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.want.clone()
}
