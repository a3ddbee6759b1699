package gst

import (
	"fmt"
	"strings"
	"time"
)

// A point's slot in the composite is the same set of elements whether it
// is in the pipeline from the start (parsed with the rest, mixLaunch) or
// added while the composite runs (mixslotlive.go): both are made from the
// element specs below, so the two cannot drift apart.

// elemSpec is one element: its factory, name (unique in the pipeline: a
// slot's elements are found by name when it leaves) and properties in
// gst-launch-1.0 notation (values as gst_util_set_object_arg reads them).
type elemSpec struct {
	factory, name string
	props         []string // "key=value"
}

// launch is the element in gst-launch-1.0 syntax.
func (e elemSpec) launch() string {
	var b strings.Builder
	b.WriteString(e.factory)
	if e.name != "" {
		b.WriteString(" name=" + e.name)
	}
	for _, p := range e.props {
		k, v, _ := strings.Cut(p, "=")
		b.WriteString(" " + k + "=")
		if v == "" || strings.ContainsFunc(v, needsQuote) {
			v = quote(v)
		}
		b.WriteString(v)
	}
	return b.String()
}

func needsQuote(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./", r))
}

// chainLaunch links elements one after the other in gst-launch syntax.
func chainLaunch(es []elemSpec) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.launch()
	}
	return strings.Join(parts, " ! ")
}

func capsSpec(name, caps string) elemSpec {
	return elemSpec{factory: "capsfilter", name: name, props: []string{"caps=" + caps}}
}

// resizeSpec is a capsfilter whose caps change while pictures flow (a
// tile's or a slate's size). Delayed: it still takes the previous caps
// until the new ones arrive, or a source that negotiated just before the
// change fails with not-negotiated — and stops the composite.
func resizeSpec(name, caps string) elemSpec {
	e := capsSpec(name, caps)
	e.props = append(e.props, "caps-change-mode=delayed")
	return e
}

// slotVideo is where point's decoded pictures enter: a funnel, so that a
// branch rebuilt at run time links to a fresh funnel pad, and until one
// exists the funnel still answers the compositor's latency query (an
// unlinked pad would fail it and stop the mixer from going live). Then
// each picture is scaled once, in the branch's own thread, to its tile's
// size (tileCaps, changed with the layout): the compositor only places
// pictures. Left to it, the compositor converts and scales every input in
// its one thread pool, which cost most of the server's CPU.
func slotVideo(point int) []elemSpec {
	return []elemSpec{
		{factory: "funnel", name: mixVideoInlet(point)},
		{factory: "videoscale", name: mixVideoScale(point)},
		resizeSpec(mixVideoCaps(point), tileCaps(MixTile{})),
	}
}

// hiddenTileSize is what a hidden tile's pictures are scaled to: the
// compositor skips them, so they should cost next to nothing.
const hiddenTileSize = 16

// tileCaps is the picture a tile takes: its size, square pixels (the
// scaler letterboxes a picture of another shape in black, as the
// compositor did on its black background), the compositor's format.
func tileCaps(t MixTile) string {
	w, h := t.W, t.H
	if !t.Visible || w < 2 || h < 2 {
		w, h = hiddenTileSize, hiddenTileSize
	}
	return fmt.Sprintf("video/x-raw,format=I420,width=%d,height=%d,pixel-aspect-ratio=1/1", w, h)
}

// slotSlate is point's "signal lost" picture, always running and shown by
// giving its compositor pad alpha 1. offset places its first picture on
// the pipeline's running time when the slot joins a running composite.
// While it is not shown its pictures are hiddenTileSize pixels square
// (slateCaps): a live source keeps the compositor's pad fed, so the
// slate goes up at once, and the N slates standing by cost next to
// nothing instead of filling and overlaying N full pictures 30 times a
// second.
func slotSlate(s MixSpec, point int, offset time.Duration) []elemSpec {
	_, sh := mixSlateSize(s.Width, s.Height)
	slateFont := fmt.Sprintf("%s Bold %d", s.Font, mixSlateFont(sh))
	src := elemSpec{factory: "videotestsrc", name: mixSlateSource(point), props: []string{
		"is-live=true", "pattern=solid-color", fmt.Sprintf("foreground-color=%d", s.SlateColor),
	}}
	if offset > 0 {
		src.props = append(src.props, fmt.Sprintf("timestamp-offset=%d", offset.Nanoseconds()))
	}
	return []elemSpec{
		src,
		resizeSpec(mixSlateCaps(point), slateCaps(s, false)),
		{factory: "textoverlay", name: mixSlateText(point), props: []string{
			"text=", "font-desc=" + slateFont, "halignment=center", "valignment=center", "line-alignment=center",
			"shaded-background=false", "wait-text=false",
		}},
	}
}

// slateCaps is the slate's picture: shown, a grid tile's size
// (mixSlateSize), scaled into the tile by the compositor; standing by, a
// speck.
func slateCaps(s MixSpec, shown bool) string {
	w, h := hiddenTileSize, hiddenTileSize
	if shown {
		w, h = mixSlateSize(s.Width, s.Height)
	}
	return fmt.Sprintf("video/x-raw,width=%d,height=%d,framerate=%d/1", w, h, s.FPS)
}

// slotAudio is where point's decoded audio enters: funnel → level (its
// meter, mixlevel.go) → volume (gain and mute) → tee, which feeds the full
// mix and every other point's mix-minus. Straight into the audio mixers,
// without queues: a mixer's pad blocks its upstream only while it holds
// more than its latency, and a thread per (point, mix) pair would make N²
// threads.
func slotAudio(point int) []elemSpec {
	return []elemSpec{
		{factory: "funnel", name: mixAudioInlet(point)},
		slotLevel(point),
		{factory: "volume", name: mixVolume(point)},
		{factory: "tee", name: mixAudioTee(point), props: []string{"allow-not-linked=true"}},
	}
}

// slotMixMinus is point's return audio: everyone but the point, Opus. The
// mixer starts at its first input, so one added to a running composite
// does not first make up the time it missed. The valve keeps the mix from
// the Opus encoder while nobody listens to the point's return feed
// (SetMixMinusListened; open until the owner says otherwise): N encoders
// of mixes nobody hears were a large share of the audio's cost. Sticky
// events pass while it is shut, so the encoder is negotiated and starts at
// the first buffer after it opens.
func slotMixMinus(s MixSpec, point int) []elemSpec {
	return []elemSpec{
		{factory: "audiomixer", name: mixMinus(point), props: []string{
			fmt.Sprintf("latency=%d", s.Latency.Nanoseconds()), "start-time-selection=first",
		}},
		capsSpec(mixMinus(point)+"caps", MixAudioCaps),
		{factory: "valve", name: mixMinusValve(point), props: []string{"drop=false", "drop-mode=forward-sticky-events"}},
		{factory: "audioconvert", name: mixMinus(point) + "conv"},
		{factory: "opusenc", name: mixMinus(point) + "enc", props: []string{fmt.Sprintf("bitrate=%d", s.OpusBitrate), "frame-size=20"}},
		{factory: "appsink", name: mixMinusSink(point), props: []string{
			"sync=false", "async=false", "wait-on-eos=false", "max-buffers=64", "drop=true",
		}},
	}
}

// slotLaunch is point's slot in gst-launch syntax, for the composite
// parsed at start: n points, all of present. Compositor pads are named
// (sink_{1+i} pictures, sink_{1+n+i} slates) so that a launch line can set
// their properties.
func slotLaunch(s MixSpec, point int, present []int) string {
	n := s.Points
	var b strings.Builder
	fmt.Fprintf(&b, " %s ! %s.%s", chainLaunch(slotVideo(point)), mixCompositor, mixVideoPad(point))
	fmt.Fprintf(&b, " %s ! %s.%s", chainLaunch(slotSlate(s, point, 0)), mixCompositor, mixSlatePad(point, n))
	b.WriteString(slotAudioLaunch(s, point, present, nil))
	return b.String()
}

// slotAudioLaunch is point's audio and mix-minus in gst-launch syntax;
// sink, when set, replaces the mix-minus appsink (MixAudioLaunch).
func slotAudioLaunch(s MixSpec, point int, present []int, sink func(name string) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, " %s", chainLaunch(slotAudio(point)))
	mm := slotMixMinus(s, point)
	if sink != nil {
		// The bench's composite: nobody listens to the return feeds.
		for i := range mm {
			if mm[i].name == mixMinusValve(point) {
				mm[i].props = []string{"drop=true", "drop-mode=forward-sticky-events"}
			}
		}
		last := len(mm) - 1
		fmt.Fprintf(&b, " %s ! %s", chainLaunch(mm[:last]), sink(mm[last].name))
	} else {
		fmt.Fprintf(&b, " %s", chainLaunch(mm))
	}
	// Request pad to request pad: gst-launch needs one of the two named.
	fmt.Fprintf(&b, " %s. ! %s.sink_%%u", mixAudioTee(point), mixAll)
	fmt.Fprintf(&b, " %s. ! %s.sink_%%u", mixSilence, mixMinus(point))
	for _, j := range present {
		if j != point {
			fmt.Fprintf(&b, " %s. ! %s.sink_%%u", mixAudioTee(j), mixMinus(point))
		}
	}
	return b.String()
}
