package gst

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults of MixSpec.
const (
	// DefaultSlateColor is the slate's background (ARGB): a deep blue that no
	// camera picture or black frame is mistaken for.
	DefaultSlateColor uint32 = 0xff1a237e
	// DefaultMixLatency is how long the compositor and the audio mixers wait
	// for a late input before producing their output without it. It covers
	// the jitter of a frame's arrival plus its decoding.
	DefaultMixLatency = 60 * time.Millisecond
	// DefaultOpusBitrate and DefaultAACBitrate are the audio encoders' rates.
	DefaultOpusBitrate = 64000
	DefaultAACBitrate  = 128000
	// MixAudioCaps is the format every point's audio is converted to before
	// mixing: float so that a sum of loud points does not wrap.
	MixAudioCaps = "audio/x-raw,format=F32LE,rate=48000,channels=2,layout=interleaved"
	// MixAudioRate and MixAudioChannels describe MixAudioCaps and the
	// encoded mixes.
	MixAudioRate     = 48000
	MixAudioChannels = 2
	// MaxMixSlots bounds the points of one composite: a 8x8 grid of 160x90
	// tiles at 1280x720 is already past what anyone can watch.
	MaxMixSlots = 64
)

// MixSpec describes one composite pipeline: N points, each with a video
// tile, a slate, a label and an audio inlet; the composite picture with a
// clock; the full audio mix and one mix-minus per point. The picture leaves
// raw (to a VideoEncoder, kept apart so that an encoder failure does not
// stop the composite); the mixes leave encoded.
type MixSpec struct {
	Width, Height, FPS int
	// Points is how many points the composite starts with, in slots
	// 0..Points-1.
	Points int
	// Slots is how many points it can hold at once, counting those that
	// join while it runs (AddPoint); each costs only a label overlay that
	// passes pictures through while unused. Default Points; at most
	// MaxMixSlots.
	Slots int
	// Font is the Pango family of labels, slates and clock. Default
	// DefaultFont, which has the Vietnamese diacritics.
	Font string
	// SlateColor is the slate's background, ARGB. Default DefaultSlateColor.
	SlateColor uint32
	// Latency is the mixers' wait for late inputs. Default DefaultMixLatency.
	Latency time.Duration
	// Decoder is the H.264 decoder fragment (Choice.Fragment of
	// SelectDecoder). Default "avdec_h264".
	Decoder string
	// OpusBitrate and AACBitrate in bit/s. Defaults DefaultOpusBitrate,
	// DefaultAACBitrate.
	OpusBitrate, AACBitrate int
	// AACEncoder is the AAC element. Default: the best installed.
	AACEncoder string
}

// Validate names the first bad field.
func (s *MixSpec) Validate() error {
	switch {
	case s.Width < 16 || s.Width%2 != 0:
		return fmt.Errorf("width: %d, want an even number >= 16", s.Width)
	case s.Height < 16 || s.Height%2 != 0:
		return fmt.Errorf("height: %d, want an even number >= 16", s.Height)
	case s.FPS < 1 || s.FPS > 120:
		return fmt.Errorf("fps: %d, want 1..120", s.FPS)
	case s.Points < 1:
		return fmt.Errorf("points: %d, want at least 1", s.Points)
	case s.Slots < 0 || s.Slots > MaxMixSlots || (s.Slots > 0 && s.Slots < s.Points) || s.Points > MaxMixSlots:
		return fmt.Errorf("slots: %d for %d points, want points..%d", s.Slots, s.Points, MaxMixSlots)
	case s.Latency < 0:
		return fmt.Errorf("latency: negative (%v)", s.Latency)
	case s.OpusBitrate < 0 || s.AACBitrate < 0:
		return errors.New("bitrate: negative")
	}
	return nil
}

func (s MixSpec) withDefaults() MixSpec {
	if s.Slots < s.Points {
		s.Slots = s.Points
	}
	if s.Font == "" {
		s.Font = DefaultFont
	}
	if s.SlateColor == 0 {
		s.SlateColor = DefaultSlateColor
	}
	if s.Latency == 0 {
		s.Latency = DefaultMixLatency
	}
	if s.Decoder == "" {
		s.Decoder = "avdec_h264"
	}
	if s.OpusBitrate == 0 {
		s.OpusBitrate = DefaultOpusBitrate
	}
	if s.AACBitrate == 0 {
		s.AACBitrate = DefaultAACBitrate
	}
	if s.AACEncoder == "" {
		s.AACEncoder = aacEncoder(HasElement)
	}
	return s
}

// rawQueue is how many composite pictures wait for the Go pump that hands
// them to the encoder: room for a few scheduling hiccups of a busy machine
// before pictures are dropped.
const rawQueue = 6

// Element and pad names of the composite pipeline.
const (
	mixCompositor = "comp"
	mixRawSink    = "raw"
	mixClock      = "clock"
	mixOpusAll    = "opusall"
	mixAACAll     = "aacall"
	mixAll        = "mixall"
	mixSilence    = "silence"
)

func mixLabel(i int) string       { return fmt.Sprintf("label%d", i) }
func mixSlateText(i int) string   { return fmt.Sprintf("slate%d", i) }
func mixVolume(i int) string      { return fmt.Sprintf("vol%d", i) }
func mixVideoInlet(i int) string  { return fmt.Sprintf("vin%d", i) }
func mixVideoScale(i int) string  { return fmt.Sprintf("vscale%d", i) }
func mixVideoCaps(i int) string   { return fmt.Sprintf("vcaps%d", i) }
func mixAudioInlet(i int) string  { return fmt.Sprintf("ain%d", i) }
func mixMinusSink(i int) string   { return fmt.Sprintf("opusmm%d", i) }
func mixMinus(i int) string       { return fmt.Sprintf("mm%d", i) }
func mixMinusValve(i int) string  { return fmt.Sprintf("mm%dvalve", i) }
func mixAudioTee(i int) string    { return fmt.Sprintf("at%d", i) }
func mixSlateSource(i int) string { return fmt.Sprintf("slatesrc%d", i) }
func mixSlateCaps(i int) string   { return fmt.Sprintf("slatesrc%dcaps", i) }
func mixVideoPad(i int) string    { return fmt.Sprintf("sink_%d", 1+i) }
func mixSlatePad(i, n int) string { return fmt.Sprintf("sink_%d", 1+n+i) }

// Font sizes (Pango points; textoverlay renders a point as about 2.2
// pixels): a label is about a fifteenth of its tile's height, the clock a
// thirtieth of the picture's, the slate's title about a twelfth of its own.
func mixClockFont(height int) int      { return max(5, height/60) }
func mixLabelFont(tileHeight int) int  { return max(5, tileHeight/30) }
func mixSlateFont(slateHeight int) int { return max(6, slateHeight/12) }

// mixSlateSize is the slate picture, scaled into the tile by the compositor:
// a grid tile's size, so the common case is not scaled at all.
func mixSlateSize(w, h int) (int, int) {
	return max(64, w/2) &^ 1, max(36, h/2) &^ 1
}

// MixLaunch is the composite's pipeline in gst-launch-1.0 syntax, as a
// Mix builds it at start: inputs enter through the funnels vinN (decoded
// video) and ainN (decoded audio), the picture leaves at appsink "raw", the
// mixes at appsinks "opusall", "aacall" and "opusmmN". For diagnosis and
// for the benchmark's bare-pipeline comparison.
func MixLaunch(spec MixSpec) string { return mixLaunch(spec) }

// mixLaunch is the composite at start: the core (mixLaunchCore) and a slot
// per point (slotLaunch). Point inputs are added at run time (mixinput.go)
// on the funnels named here; points join and leave with mixslotlive.go.
func mixLaunch(s MixSpec) string {
	s = s.withDefaults()
	present := make([]int, s.Points)
	for i := range present {
		present[i] = i
	}
	var b strings.Builder
	b.WriteString(mixLaunchCore(s))
	for _, i := range present {
		b.WriteString(slotLaunch(s, i, present))
	}
	return b.String()
}

// mixLaunchCore is what does not depend on the points: the compositor on
// its black background, a label overlay per slot (silent ones pass
// pictures through untouched), the clock, the raw picture's appsink; the
// silence that keeps every audio mixer producing; the full mix and its
// Opus and AAC encoders.
func mixLaunchCore(s MixSpec) string {
	var b strings.Builder
	clockSize := mixClockFont(s.Height)
	labelFont := quote(fmt.Sprintf("%s Bold %d", s.Font, mixLabelFont(s.Height/2)))
	clockFont := quote(fmt.Sprintf("%s Bold %d", s.Font, clockSize))
	latency := s.Latency.Nanoseconds()

	// Video: the compositor runs on the clock whatever its inputs do; the
	// live black background keeps it negotiated and ticking with none. Not
	// ignore-inactive-pads: in 1.22 a first aggregate before any pad has a
	// buffer then counts every pad as finished and ends the composite (EOS).
	fmt.Fprintf(&b, "compositor name=%s background=black latency=%d", mixCompositor, latency)
	fmt.Fprintf(&b, " ! video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1,pixel-aspect-ratio=1/1", s.Width, s.Height, s.FPS)
	for i := range s.Slots {
		fmt.Fprintf(&b, " ! textoverlay name=%s silent=true text=\"\" font-desc=%s halignment=left valignment=bottom"+
			" xpad=0 ypad=0 shaded-background=true wait-text=false", mixLabel(i), labelFont)
	}
	fmt.Fprintf(&b, " ! clockoverlay name=%s time-format=\"%%d/%%m/%%Y %%H:%%M:%%S\" font-desc=%s"+
		" halignment=right valignment=top xpad=%d ypad=%d shaded-background=true", mixClock, clockFont, clockSize, clockSize)
	fmt.Fprintf(&b, " ! appsink name=%s sync=false async=false wait-on-eos=false max-buffers=%d drop=true", mixRawSink, rawQueue)
	fmt.Fprintf(&b, " videotestsrc is-live=true pattern=black ! video/x-raw,width=16,height=16,framerate=%d/1 ! %s.sink_0",
		s.FPS, mixCompositor)

	b.WriteString(mixAudioCore(s, appSinkLaunch))
	return b.String()
}

// mixAudioCore is the audio of the core: a live silence keeps each mixer
// producing while no point sends audio; the full mix feeds an Opus and an
// AAC encoder, each ending in sink(name).
func mixAudioCore(s MixSpec, sink func(name string) string) string {
	var b strings.Builder
	latency := s.Latency.Nanoseconds()
	fmt.Fprintf(&b, " audiotestsrc is-live=true wave=silence samplesperbuffer=%d ! %s ! tee name=%s allow-not-linked=true",
		MixAudioRate/50, MixAudioCaps, mixSilence)
	// start-time-selection=first: started at running time 0, the mixer
	// can hold the pipeline's clock before its base time (a pipeline goes
	// PLAYING element by element, sinks first), take every clock wait as
	// late, and make silence as fast as the leaky queues behind it take
	// it. A loaded machine stretched that moment, and the mix ran 1 to
	// 13 s ahead of the clock; it then waited for the clock, dropping the
	// points' sound as late. Started at its first input (the live
	// silence's, which comes only once its source is PLAYING, after the
	// mixer) it does not run ahead.
	fmt.Fprintf(&b, " audiomixer name=%s latency=%d start-time-selection=first ! %s ! tee name=%st", mixAll, latency, MixAudioCaps, mixAll)
	fmt.Fprintf(&b, " %s. ! %s.sink_%%u", mixSilence, mixAll)
	queue := fmt.Sprintf("queue max-size-time=%d max-size-buffers=0 max-size-bytes=0 leaky=downstream", time.Second.Nanoseconds())
	fmt.Fprintf(&b, " %st. ! %s ! audioconvert ! opusenc bitrate=%d frame-size=20 ! %s",
		mixAll, queue, s.OpusBitrate, sink(mixOpusAll))
	if s.AACEncoder != "" {
		fmt.Fprintf(&b, " %st. ! %s ! audioconvert ! %s bitrate=%d ! aacparse ! audio/mpeg,mpegversion=4,stream-format=raw ! %s",
			mixAll, queue, s.AACEncoder, s.AACBitrate, sink(mixAACAll))
	}
	return b.String()
}

// appSinkLaunch is an encoded mix's way out of the pipeline.
func appSinkLaunch(name string) string {
	return "appsink name=" + name + " sync=false async=false wait-on-eos=false max-buffers=64 drop=true"
}

// MixAudioLaunch is the composite's audio alone in gst-launch-1.0 syntax,
// as a Mix builds it at start for spec.Points points that send no sound
// (every mixer fed the silence) and whose return feeds nobody listens to,
// each encoded mix ending in a fakesink:
// the audio work of the benchmark's bare pipeline, so that its CPU
// compares like with like with the server's.
func MixAudioLaunch(spec MixSpec) string {
	s := spec.withDefaults()
	fake := func(name string) string { return "fakesink name=" + name + " sync=false async=false" }
	present := make([]int, s.Points)
	for i := range present {
		present[i] = i
	}
	var b strings.Builder
	b.WriteString(mixAudioCore(s, fake))
	for _, i := range present {
		b.WriteString(slotAudioLaunch(s, i, present, fake))
	}
	return b.String()
}

// ParseAACCaps reads the AudioSpecificConfig, rate and channels from AAC
// caps, such as a Sample's.
func ParseAACCaps(caps string) (asc []byte, rate, channels int, err error) { return aacCaps(caps) }
