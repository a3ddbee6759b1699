package mixer

import (
	"fmt"
	"slices"
)

// controls are the operator's settings of a running composite.
type controls struct {
	layout Layout
	focus  int
	points []pointControl
}

type pointControl struct {
	label string
	gain  float64
	muted bool
}

func initialControls(cfg Config) controls {
	c := controls{layout: cfg.Layout}
	for i, p := range cfg.Points {
		if p.ID == cfg.Focus {
			c.focus = i
		}
		c.points = append(c.points, pointControl{label: p.Label, gain: p.Gain, muted: p.Muted})
	}
	return c
}

func (c controls) clone() controls {
	c.points = slices.Clone(c.points)
	return c
}

// PointUpdate changes some of a point's settings (CONTRACT.md: PATCH
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
	idx := -1
	if focus != "" {
		if idx = m.pointIndex(focus); idx < 0 {
			return fmt.Errorf("focus: %q: %w", focus, ErrUnknownPoint)
		}
	}
	m.mu.Lock()
	m.want.layout = l
	if idx >= 0 {
		m.want.focus = idx
	}
	m.mu.Unlock()
	m.nudge()
	return nil
}

// Layout returns the current layout and focus point.
func (m *Mixer) Layout() (Layout, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.want.layout, m.cfg.Points[m.want.focus].ID
}

// SetPoint changes a point's gain, mute or label. Errors name the field.
func (m *Mixer) SetPoint(id string, u PointUpdate) error {
	i := m.pointIndex(id)
	if i < 0 {
		return fmt.Errorf("point %q: %w", id, ErrUnknownPoint)
	}
	if u.Gain != nil && (*u.Gain < 0 || *u.Gain > 10) {
		return fmt.Errorf("gain: %g, want 0..10", *u.Gain)
	}
	m.mu.Lock()
	p := &m.want.points[i]
	if u.Gain != nil {
		p.gain = *u.Gain
	}
	if u.Muted != nil {
		p.muted = *u.Muted
	}
	if u.Label != nil {
		p.label = *u.Label
	}
	m.mu.Unlock()
	m.nudge()
	return nil
}

func (m *Mixer) pointIndex(id string) int {
	for i, p := range m.cfg.Points {
		if p.ID == id {
			return i
		}
	}
	return -1
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
