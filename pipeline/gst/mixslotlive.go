package gst

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-gst/go-gst/gst"

	"diemcau/pipeline"
)

// Points joining and leaving a running composite. The order of each step
// matters: a source never pushes into a pad that is not linked yet (that
// is an error that stops it), and a tee that feeds another point's mixer
// stops doing so before that mixer goes (a flushing pad would stop the
// tee's own point).

// HasPoint reports whether point's slot is in the composite. Owner only.
func (m *Mix) HasPoint(point int) bool {
	return point >= 0 && point < len(m.present) && m.present[point]
}

// Slots is how many points the composite can hold (MixSpec.Slots).
func (m *Mix) Slots() int { return m.spec.Slots }

// AddPoint puts point's slot into the running composite: its tile (hidden
// until SetTile), slate, label and audio, its mix-minus, and its share in
// every other point's mix-minus. Its inputs follow with SetInput. Owner only.
func (m *Mix) AddPoint(point int) error {
	if point < 0 || point >= m.spec.Slots {
		return fmt.Errorf("mix: point %d: want a slot in 0..%d", point, m.spec.Slots-1)
	}
	if m.present[point] {
		return fmt.Errorf("mix: point %d: already in the composite", point)
	}
	if m.p == nil || m.stopping.Load() {
		return errors.New("mix: not running")
	}
	var made []*gst.Element
	fail := func(err error) error {
		m.teardown(point, made)
		return fmt.Errorf("mix: add point %d: %w", point, err)
	}
	chain := func(specs []elemSpec) (first, last *gst.Element, err error) {
		els, err := m.makeChain(specs)
		made = append(made, els...)
		if err != nil {
			return nil, nil, err
		}
		return els[0], els[len(els)-1], nil
	}
	comp, err := m.element(mixCompositor)
	if err != nil {
		return fail(err)
	}
	// The mix-minus first, playing before anything feeds it.
	mm, _, err := chain(slotMixMinus(m.spec, point))
	if err != nil {
		return fail(err)
	}
	if err := syncAll(made); err != nil {
		return fail(err)
	}
	synced := len(made)
	_, vin, err := chain(slotVideo(point))
	if err != nil {
		return fail(err)
	}
	_, slate, err := chain(slotSlate(m.spec, point, max(m.RunningTime(), 0)))
	if err != nil {
		return fail(err)
	}
	_, tee, err := chain(slotAudio(point))
	if err != nil {
		return fail(err)
	}
	if m.videoPads[point], err = linkRequest(vin, comp); err != nil {
		return fail(err)
	}
	if m.slatePads[point], err = linkRequest(slate, comp); err != nil {
		return fail(err)
	}
	if err := m.lookupSlot(point); err != nil {
		return fail(err)
	}
	m.slotReady(point)
	// Its audio into the full mix and the others' mix-minus; theirs and
	// the silence into its own.
	targets := []string{mixAll}
	sources := []string{mixSilence}
	for j, ok := range m.present {
		if ok && j != point {
			targets = append(targets, mixMinus(j))
			sources = append(sources, mixAudioTee(j))
		}
	}
	for _, name := range targets {
		dst, err := m.element(name)
		if err == nil {
			_, err = linkRequest(tee, dst)
		}
		if err != nil {
			return fail(err)
		}
	}
	if err := syncAll(made[synced:]); err != nil {
		return fail(err)
	}
	for _, name := range sources {
		src, err := m.element(name)
		if err == nil {
			_, err = linkRequest(src, mm)
		}
		if err != nil {
			return fail(err)
		}
	}
	if out := m.mixMinusOut(point); out != nil {
		m.setAudioOuts(func(*audioOut) bool { return true }, out)
	}
	return nil
}

// RemovePoint takes point's slot out of the running composite: its
// inputs, tile, slate, label, its audio in every mix, its own mix-minus.
// Owner only.
func (m *Mix) RemovePoint(point int) {
	if !m.HasPoint(point) {
		return
	}
	m.RemoveInput(point, pipeline.Video)
	m.RemoveInput(point, pipeline.Audio)
	m.SetLabel(point, "")
	var els []*gst.Element
	for _, specs := range [][]elemSpec{slotSlate(m.spec, point, 0), slotVideo(point), slotAudio(point), slotMixMinus(m.spec, point)} {
		for _, s := range specs {
			if e, err := m.element(s.name); err == nil {
				els = append(els, e)
			}
		}
	}
	m.teardown(point, els)
}

// teardown stops and removes a slot's elements (every one is named after
// the slot) and releases every pad it holds on the rest of the pipeline.
func (m *Mix) teardown(point int, els []*gst.Element) {
	m.present[point] = false
	m.setAudioOuts(func(o *audioOut) bool { return o.point != point }, nil)
	if w := m.watches[point]; w != nil {
		w.remove()
		m.watches[point] = nil
	}
	m.tiles[point], m.slateOn[point] = MixTile{}, false
	names := map[string]bool{}
	for _, e := range els {
		names[e.GetName()] = true
	}
	outside := func(p *gst.Pad) bool {
		e := p.GetParentElement()
		return e != nil && !names[e.GetName()]
	}
	// Tees outside the slot feeding it stop first (releasing a tee's pad
	// waits for a push in flight), so nothing pushes into a stopping pad.
	for _, e := range els {
		pads, _ := e.GetSinkPads()
		for _, pad := range pads {
			if peer := pad.GetPeer(); peer != nil && outside(peer) {
				releaseLink(peer, pad)
			}
		}
	}
	// Sources first, so that a running videotestsrc stops before its
	// compositor pad goes.
	for _, e := range els {
		if err := changeState(e, gst.StateNull, m.stateTimeout); err != nil {
			m.log.Warn("slot element did not stop", "element", e.GetName(), "error", err)
		}
	}
	for _, e := range els {
		pads, _ := e.GetSrcPads()
		for _, pad := range pads {
			if peer := pad.GetPeer(); peer != nil && outside(peer) {
				releaseLink(pad, peer)
			}
		}
	}
	for _, e := range els {
		if err := m.p.Remove(e); err != nil {
			m.log.Warn("slot element not removed", "element", e.GetName(), "error", err)
		}
	}
	m.videoPads[point], m.slatePads[point] = nil, nil
	m.slateTexts[point], m.volumes[point], m.vinlets[point], m.ainlets[point] = nil, nil, nil, nil
	m.tileScalers[point], m.tileCapsSet[point] = nil, ""
	m.slateScalers[point], m.slateCapsSet[point] = nil, ""
	m.mmValves[point], m.mmListened[point] = nil, false
}

// makeChain makes the elements of specs, adds them to the pipeline and
// links them in order. On error the elements made so far are returned too.
func (m *Mix) makeChain(specs []elemSpec) ([]*gst.Element, error) {
	var els []*gst.Element
	for _, s := range specs {
		e, err := gst.NewElementWithName(s.factory, s.name)
		if err != nil || e == nil {
			return els, fmt.Errorf("element %s (%s): not made: %v", s.name, s.factory, err)
		}
		for _, p := range s.props {
			k, v, _ := strings.Cut(p, "=")
			e.SetArg(k, v)
		}
		if err := m.p.Add(e); err != nil {
			return els, fmt.Errorf("add %s: %w", s.factory, err)
		}
		if n := len(els); n > 0 {
			if err := els[n-1].Link(e); err != nil {
				return append(els, e), fmt.Errorf("link %s to %s: %w", els[n-1].GetName(), e.GetName(), err)
			}
		}
		els = append(els, e)
	}
	return els, nil
}

// linkRequest links src to a new request pad of dst and returns that pad.
func linkRequest(src, dst *gst.Element) (*gst.Pad, error) {
	sinkPad := dst.GetRequestPad("sink_%u")
	if sinkPad == nil {
		return nil, fmt.Errorf("%s: no request pad", dst.GetName())
	}
	srcPad := src.GetStaticPad("src")
	if srcPad == nil {
		srcPad = src.GetRequestPad("src_%u")
	}
	if srcPad == nil {
		dst.ReleaseRequestPad(sinkPad)
		return nil, fmt.Errorf("%s: no source pad", src.GetName())
	}
	if r := srcPad.Link(sinkPad); r != gst.PadLinkOK {
		releaseLink(srcPad, sinkPad)
		return nil, fmt.Errorf("link %s to %s: %s", src.GetName(), dst.GetName(), r)
	}
	return sinkPad, nil
}

// releaseLink unlinks src from sink and gives back whichever of the two is
// a request pad (a tee's source, a mixer's or funnel's sink).
func releaseLink(src, sink *gst.Pad) {
	srcEl, sinkEl := src.GetParentElement(), sink.GetParentElement()
	if isRequestPad(src) && srcEl != nil {
		srcEl.ReleaseRequestPad(src) // unlinks, after any push in flight
	} else {
		src.Unlink(sink)
	}
	if isRequestPad(sink) && sinkEl != nil {
		sinkEl.ReleaseRequestPad(sink)
	}
}

func isRequestPad(p *gst.Pad) bool {
	t := p.GetPadTemplate()
	return t != nil && t.Presence() == gst.PadPresenceRequest
}

// syncAll brings new elements to the pipeline's state, sinks first.
func syncAll(els []*gst.Element) error {
	for i := len(els) - 1; i >= 0; i-- {
		if !els[i].SyncStateWithParent() {
			return fmt.Errorf("%s: could not start", els[i].GetName())
		}
	}
	return nil
}

// SetDecoder makes branches built from now on decode H.264 with fragment
// (a Choice's Fragment); running branches keep theirs. Owner only.
func (m *Mix) SetDecoder(fragment string) { m.spec.Decoder = fragment }
