package gst

import (
	"fmt"

	"github.com/go-gst/go-gst/gst"
)

// Runtime controls of a running Mix. They change element and pad
// properties only — never the pipeline's state or links — so a layout
// switch costs no frame and the encoder never restarts. Owner only.

// zorders above the tiles: the labels are overlays, not pads.
const slateAboveTile = 1

// SetTile moves point's picture (and its slate) to t. A hidden tile is not
// drawn at all (alpha 0 makes the compositor skip the pad).
func (m *Mix) SetTile(point int, t MixTile) {
	m.tiles[point] = t
	m.applyTile(point)
}

// SetSlate shows or hides point's slate, with its text (lines separated by
// "\n", shown as written: not markup). While shown it covers the frozen
// last picture.
func (m *Mix) SetSlate(point int, on bool, text string) {
	m.slateOn[point] = on
	if on {
		m.set(m.slateTexts[point], "text", markupText(text))
	}
	m.applyTile(point)
}

// SetLabel sets point's caption, shown as written (not markup); empty
// hides it.
func (m *Mix) SetLabel(point int, text string) {
	m.set(m.labels[point], "text", markupText(text))
	m.applyTile(point)
}

// SetVolume sets point's gain (linear, 1 unity) and mute, for the full mix
// and every mix-minus at once.
func (m *Mix) SetVolume(point int, gain float64, mute bool) {
	m.set(m.volumes[point], "volume", min(max(gain, 0), 10))
	m.set(m.volumes[point], "mute", mute)
}

// SetMixMinusListened encodes point's mix-minus while someone listens to
// its return feed, and stops encoding it when nobody does. The first
// sound reaches a new listener at the mixer's next buffer (10 ms).
func (m *Mix) SetMixMinusListened(point int, on bool) {
	if !m.HasPoint(point) || m.mmListened[point] == on || m.mmValves[point] == nil {
		return
	}
	m.set(m.mmValves[point], "drop", !on)
	m.mmListened[point] = on
}

func (m *Mix) applyTile(point int) {
	t := m.tiles[point]
	slate := m.slateOn[point] && t.Visible
	video := 1.0
	if !t.Visible || slate {
		video = 0
	}
	slateAlpha := 0.0
	if slate {
		slateAlpha = 1
	}
	// The picture's size first: pictures already scaled to the old size
	// are placed at the new one by the compositor until the branch has
	// renegotiated (a frame or two).
	m.setCaps(m.tileScalers[point], &m.tileCapsSet[point], tileCaps(t))
	m.setCaps(m.slateScalers[point], &m.slateCapsSet[point], slateCaps(m.spec, slate))
	m.setPad(m.videoPads[point], t, video)
	st := t
	st.Z += slateAboveTile
	m.setPad(m.slatePads[point], st, slateAlpha)

	label := m.labels[point]
	text, _ := label.GetProperty("text")
	s, _ := text.(string)
	m.set(label, "silent", !t.Visible || s == "")
	size := mixLabelFont(t.H)
	if font := fmt.Sprintf("%s Bold %d", m.spec.Font, size); font != m.labelFonts[point] {
		m.set(label, "font-desc", font)
		m.labelFonts[point] = font
	}
	pad := max(2, size/2)
	// Bottom-left of the tile: deltas shift the text from the picture's
	// bottom-left corner (xpad = ypad = 0).
	m.set(label, "deltax", t.X+pad)
	m.set(label, "deltay", t.Y+t.H-pad-m.spec.Height)
}

func (m *Mix) setPad(pad *gst.Pad, t MixTile, alpha float64) {
	m.set(pad, "xpos", t.X)
	m.set(pad, "ypos", t.Y)
	m.set(pad, "width", max(t.W, 1))
	m.set(pad, "height", max(t.H, 1))
	m.set(pad, "zorder", uint(max(t.Z, 0)))
	m.set(pad, "alpha", alpha)
	// Cameras keep their shape inside the tile; set every time because
	// a pad is configured before its first placement too.
	pad.SetArg("sizing-policy", "keep-aspect-ratio")
}

// setCaps gives a capsfilter new caps when they differ from those it has
// (*set): the elements before it renegotiate at their next picture.
func (m *Mix) setCaps(filter *gst.Element, set *string, caps string) {
	if filter == nil || caps == *set {
		return
	}
	filter.SetArg("caps", caps)
	*set = caps
}

// propSetter is what elements and pads share for properties.
type propSetter interface {
	SetProperty(name string, value any) error
}

// set sets a property whose name and type are fixed by this package, so a
// failure is a bug: logged, and the composite goes on.
func (m *Mix) set(o propSetter, name string, value any) {
	if err := o.SetProperty(name, value); err != nil {
		m.log.Error("mix: cannot set property", "property", name, "value", fmt.Sprint(value), "error", err)
	}
}
