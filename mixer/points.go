package mixer

import (
	"errors"
	"fmt"
	"slices"
)

// ErrFull is wrapped by AddPoint when every slot of the composite is taken.
var ErrFull = errors.New("no free slot")

// initialControls puts the configured points in slots 0..n-1.
func (m *Mixer) initialControls() controls {
	c := controls{layout: m.cfg.Layout, points: make([]pointControl, m.cfg.MaxPoints)}
	for i, p := range m.cfg.Points {
		m.gen++
		c.points[i] = pointControl{id: p.ID, stream: p.Stream, sub: p.Sub, label: p.Label, gain: p.Gain, muted: p.Muted, gen: m.gen}
		c.order = append(c.order, i)
		m.bootGens = append(m.bootGens, m.gen)
		if p.ID == m.cfg.Focus {
			c.focus = i
		}
		m.out.addReturn(i, p.ID)
	}
	return c
}

// AddPoint makes p take part in the composite, before or while it runs:
// its tile joins the layout (last in the order), its audio the full mix
// and every other point's mix-minus, and its return feed exists as soon
// as AddPoint returns. Nothing else restarts. Errors name the field; a
// composite with every slot taken wraps ErrFull.
func (m *Mixer) AddPoint(p Point) error {
	if err := validatePoint(p); err != nil {
		return err
	}
	p = p.withDefaults()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.want.slotOf(p.ID) >= 0 {
		return fmt.Errorf("id: point %q already takes part", p.ID)
	}
	slot := -1
	for s, c := range m.want.points {
		if c.gen == 0 && !m.inMix[s] {
			slot = s
			break
		}
	}
	if slot < 0 {
		return fmt.Errorf("points: %d taking part: %w", len(m.want.order), ErrFull)
	}
	m.gen++
	m.want.points[slot] = pointControl{id: p.ID, stream: p.Stream, sub: p.Sub, label: p.Label, gain: p.Gain, muted: p.Muted, gen: m.gen}
	m.want.order = append(m.want.order, slot)
	m.out.addReturn(slot, p.ID)
	m.nudge()
	return nil
}

// RemovePoint takes point id out of the composite: its tile leaves the
// layout, its audio every mix, its return feed ends. The last point stays:
// a composite of nobody is a mistake, not a session.
func (m *Mixer) RemovePoint(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	slot := m.want.slotOf(id)
	if slot < 0 {
		return fmt.Errorf("point %q: %w", id, ErrUnknownPoint)
	}
	if len(m.want.order) == 1 {
		return fmt.Errorf("points: %q is the only point; a session keeps at least one", id)
	}
	m.want.points[slot] = pointControl{}
	m.want.order = slices.DeleteFunc(m.want.order, func(s int) bool { return s == slot })
	// Its return feed ends now; the owner takes the slot out of the
	// pipeline next.
	m.out.closeReturn(slot)
	if m.want.focus == slot {
		m.want.focus = m.want.order[0]
	}
	m.nudge()
	return nil
}

// Points are the ids of the points taking part, in tile order.
func (m *Mixer) Points() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, len(m.want.order))
	for i, s := range m.want.order {
		ids[i] = m.want.points[s].id
	}
	return ids
}

// setInMix records whether slot is in the pipeline (owner), so AddPoint
// does not hand out a slot the owner has not cleared yet.
func (m *Mixer) setInMix(slot int, in bool) {
	m.mu.Lock()
	m.inMix[slot] = in
	m.mu.Unlock()
}

// Reorder puts the tiles in the order of ids, which must name every point
// taking part once. The layout changes at once, as with SetLayout.
func (m *Mixer) Reorder(ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(ids) != len(m.want.order) {
		return fmt.Errorf("points: %d ids for %d points taking part", len(ids), len(m.want.order))
	}
	order := make([]int, 0, len(ids))
	for _, id := range ids {
		s := m.want.slotOf(id)
		if s < 0 {
			return fmt.Errorf("point %q: %w", id, ErrUnknownPoint)
		}
		if slices.Contains(order, s) {
			return fmt.Errorf("points: %q twice", id)
		}
		order = append(order, s)
	}
	m.want.order = order
	m.nudge()
	return nil
}
