// Package mixer makes one session's composite: every point's picture in a
// layout with its label, slates for lost signals, a clock, the audio mix and
// a mix-minus per point, encoded once into pipeline.Streams that the
// recorder, WHEP and RTSP re-serve all read. The GStreamer side lives in
// pipeline/gst (Mix, VideoEncoder); this package owns the timing, the
// layout, the state of each point and the outputs.
package mixer

import (
	"fmt"
	"time"

	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// Output defaults (docs/configuration.md, sessions[].output).
const (
	DefaultWidth       = 1280
	DefaultHeight      = 720
	DefaultFPS         = 30
	DefaultBitrateKbps = 2500
)

// Output is the composite's picture and its encoding.
type Output struct {
	Width, Height int // default 1280x720
	FPS           int // default 30
	BitrateKbps   int // default 2500
	// KeyInt is the distance between keyframes in frames. Default 2*FPS
	// (2 s, the archive's and the viewers' join time).
	KeyInt int
	// Low is a second, smaller encoding of the same composite pictures
	// (Mixer.Low), for viewers on thin links; zero Width: none. The
	// archive keeps the main one only.
	Low LowRendition
}

// LowRendition is the low rendition's picture and bitrate.
type LowRendition struct {
	Width, Height int
	BitrateKbps   int // default DefaultLowBitrateKbps
}

// DefaultLowBitrateKbps is the low rendition's bitrate when unset: 640x360
// at 30 fps holds well at it, and a viewer on a 1 Mbit/s link gets it.
const DefaultLowBitrateKbps = 500

// Point is one studio taking part in the session.
type Point struct {
	ID    string // pipeline.ValidID, unique in the session
	Label string // caption on its tile; default the ID
	// Stream is the point's source; its video and audio are read with
	// their own reader, from the last keyframe.
	Stream *pipeline.Stream
	// Sub is the camera's sub-stream (the same picture, smaller), or nil.
	// Its pictures are decoded instead of Stream's while the point's tile
	// is no larger than them; its sound is never used.
	Sub *pipeline.Stream
	// Gain is linear (1 unity, 0 silence); a zero value in Config means 1:
	// set Muted to silence a point from the start.
	Gain  float64
	Muted bool
}

// Config is one session's composite.
type Config struct {
	Session string
	Output  Output
	Layout  Layout // default grid
	Focus   string // the point the speaker, pip and single layouts feature; default the first
	Points  []Point
	// Encoder is the H.264 encoder (gst.SelectEncoder's choice); empty means
	// x264. If it fails at run time the next candidate takes over.
	Encoder gst.Choice
	// Decoder is the H.264 decoder (gst.SelectDecoder's choice); empty
	// means avdec_h264.
	Decoder gst.Choice
	// Font is the Pango family of labels, slates and clock. Default "Noto
	// Sans", which has the Vietnamese diacritics.
	Font string
	// MaxPoints is how many points may take part at once, counting those
	// added while the composite runs (AddPoint). Default the larger of
	// DefaultMaxPoints and len(Points); at most gst.MaxMixSlots.
	MaxPoints int
	// SilentAfter is how long a point with a live picture may send no
	// sound before it is flagged silent. Default DefaultSilentAfter.
	SilentAfter time.Duration
	// SilentBelow is the RMS level, in dBFS, under which a point counts as
	// sending no sound. Default DefaultSilentBelow.
	SilentBelow float64
}

// DefaultMaxPoints is room for the points a province links at once — its
// own studio, the communes of a case and the central studios — with more
// joining while the session runs.
const DefaultMaxPoints = 16

// Validate names the first bad field.
func (c *Config) Validate() error {
	o := c.Output
	switch {
	case c.Session == "":
		return fmt.Errorf("session: empty")
	case o.Width < 0 || o.Width%2 != 0 || (o.Width > 0 && o.Width < 16):
		return fmt.Errorf("output.width: %d, want an even number >= 16", o.Width)
	case o.Height < 0 || o.Height%2 != 0 || (o.Height > 0 && o.Height < 16):
		return fmt.Errorf("output.height: %d, want an even number >= 16", o.Height)
	case o.FPS < 0 || o.FPS > 120:
		return fmt.Errorf("output.fps: %d, want 1..120", o.FPS)
	case o.BitrateKbps < 0:
		return fmt.Errorf("output.bitrate: %d, want > 0", o.BitrateKbps)
	case o.KeyInt < 0:
		return fmt.Errorf("output.keyint: %d, want > 0", o.KeyInt)
	case o.Low.Width < 0 || o.Low.Width%2 != 0 || o.Low.Height < 0 || o.Low.Height%2 != 0 ||
		(o.Low.Width > 0) != (o.Low.Height > 0) || (o.Low.Width > 0 && (o.Low.Width < 16 || o.Low.Height < 16)):
		return fmt.Errorf("output.low: %dx%d, want even sizes >= 16 (or none)", o.Low.Width, o.Low.Height)
	case o.Low.Width > 0 && o.Width > 0 && (o.Low.Width > o.Width || o.Low.Height > o.Height):
		return fmt.Errorf("output.low: %dx%d, larger than the output's %dx%d", o.Low.Width, o.Low.Height, o.Width, o.Height)
	case o.Low.BitrateKbps < 0:
		return fmt.Errorf("output.low.bitrate: %d, want > 0", o.Low.BitrateKbps)
	case c.Layout != "" && !c.Layout.Valid():
		return fmt.Errorf("layout: %q, want one of %v", c.Layout, Layouts())
	case len(c.Points) == 0:
		return fmt.Errorf("points: none")
	case c.MaxPoints < 0 || c.MaxPoints > gst.MaxMixSlots:
		return fmt.Errorf("max_points: %d, want 0..%d", c.MaxPoints, gst.MaxMixSlots)
	case c.SilentAfter < 0:
		return fmt.Errorf("silent_after: %v, want > 0", c.SilentAfter)
	case c.SilentBelow > 0 || c.SilentBelow < gst.LevelFloorDBFS:
		return fmt.Errorf("silent_below: %g dBFS, want %g..0", c.SilentBelow, gst.LevelFloorDBFS)
	}
	limit := c.MaxPoints
	if limit == 0 {
		limit = gst.MaxMixSlots
	}
	if len(c.Points) > limit {
		return fmt.Errorf("points: %d, more than the %d this composite holds", len(c.Points), limit)
	}
	seen := map[string]bool{}
	for i, p := range c.Points {
		if err := validatePoint(p); err != nil {
			return fmt.Errorf("points[%d].%w", i, err)
		}
		if seen[p.ID] {
			return fmt.Errorf("points[%d].id: %q used twice", i, p.ID)
		}
		seen[p.ID] = true
	}
	if c.Focus != "" && !seen[c.Focus] {
		return fmt.Errorf("focus: no point %q", c.Focus)
	}
	return nil
}

// validatePoint names p's first bad field ("id: …").
func validatePoint(p Point) error {
	switch {
	case !pipeline.ValidID(p.ID):
		return fmt.Errorf("id: %q, want %s", p.ID, pipeline.IDRule)
	case p.Stream == nil:
		return fmt.Errorf("stream: nil")
	case p.Gain < 0 || p.Gain > 10:
		return fmt.Errorf("gain: %g, want 0..10", p.Gain)
	}
	return nil
}

func (p Point) withDefaults() Point {
	if p.Label == "" {
		p.Label = p.ID
	}
	if p.Gain == 0 {
		p.Gain = 1
	}
	return p
}

func (c Config) withDefaults() Config {
	o := &c.Output
	if o.Width == 0 {
		o.Width = DefaultWidth
	}
	if o.Height == 0 {
		o.Height = DefaultHeight
	}
	if o.FPS == 0 {
		o.FPS = DefaultFPS
	}
	if o.BitrateKbps == 0 {
		o.BitrateKbps = DefaultBitrateKbps
	}
	if o.KeyInt == 0 {
		o.KeyInt = 2 * o.FPS
	}
	if o.Low.Width > 0 && o.Low.BitrateKbps == 0 {
		o.Low.BitrateKbps = DefaultLowBitrateKbps
	}
	if c.Layout == "" {
		c.Layout = Grid
	}
	if c.Focus == "" {
		c.Focus = c.Points[0].ID
	}
	c.Points = append([]Point(nil), c.Points...)
	for i := range c.Points {
		c.Points[i] = c.Points[i].withDefaults()
	}
	if c.MaxPoints == 0 {
		c.MaxPoints = min(max(DefaultMaxPoints, len(c.Points)), gst.MaxMixSlots)
	}
	if c.Encoder.Element == "" {
		c.Encoder = softwareEncoder()
	}
	if c.SilentAfter == 0 {
		c.SilentAfter = DefaultSilentAfter
	}
	if c.SilentBelow == 0 {
		c.SilentBelow = DefaultSilentBelow
	}
	return c
}

// softwareEncoder is x264, the encoder every install has.
func softwareEncoder() gst.Choice {
	for _, cand := range gst.Encoders() {
		if cand.Name == "x264" {
			return gst.Choice{Name: cand.Name, Element: cand.Element, Hardware: cand.Hardware}
		}
	}
	return gst.Choice{Name: "x264", Element: "x264enc"}
}
