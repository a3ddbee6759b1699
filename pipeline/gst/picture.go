package gst

import (
	"fmt"
	"strings"
)

// AudioCodec is the coded audio of a test signal.
type AudioCodec string

// Audio codecs of the test encoders.
const (
	AudioNone AudioCodec = ""
	AudioOpus AudioCodec = "opus" // 48 kHz, 20 ms frames
	AudioAAC  AudioCodec = "aac"  // AAC-LC, 1024-sample frames
)

// Defaults of the test picture and tone.
const (
	DefaultFont      = "Noto Sans" // has the Vietnamese diacritics (fonts-noto-core)
	DefaultPattern   = "smpte"
	DefaultAudioFreq = 440
	audioRate        = 48000
)

// TestPicture is what the encoded test signal shows.
type TestPicture struct {
	Width, Height, FPS int
	// Label is burnt in at the top left; empty for none.
	Label string
	// Clock burns in the wall-clock date and time (live encoders only: a
	// clock in a replayed loop would jump back).
	Clock bool
	// Font is a Pango family. Default DefaultFont.
	Font string
	// Pattern is a videotestsrc pattern. Default DefaultPattern, moving
	// sideways so that P-frames carry something, like a real camera.
	// pipeline.PatternAVSync is the lip-sync pattern instead (flash + beep, loops
	// only).
	Pattern string
}

// videoSource is the raw test picture: videotestsrc, caps, overlays.
// frames > 0 makes a finite, as-fast-as-possible source; 0 a live one.
func videoSource(p TestPicture, frames int) string {
	pattern := p.Pattern
	if pattern == "" {
		pattern = DefaultPattern
	}
	var b strings.Builder
	if frames > 0 {
		fmt.Fprintf(&b, "videotestsrc num-buffers=%d", frames)
	} else {
		b.WriteString("videotestsrc is-live=true")
	}
	fmt.Fprintf(&b, " pattern=%s horizontal-speed=4 ! video/x-raw,width=%d,height=%d,framerate=%d/1",
		pattern, p.Width, p.Height, p.FPS)
	b.WriteString(overlays(p))
	return b.String()
}

// overlays burns in the label and the clock, each as " ! element …".
func overlays(p TestPicture) string {
	font := p.Font
	if font == "" {
		font = DefaultFont
	}
	var b strings.Builder
	size := max(10, p.Height/16)
	if p.Label != "" {
		fmt.Fprintf(&b, " ! textoverlay text=%s font-desc=%s valignment=top halignment=left shaded-background=true",
			quote(markupText(p.Label)), quote(fmt.Sprintf("%s %d", font, size)))
	}
	if p.Clock {
		fmt.Fprintf(&b, ` ! clockoverlay time-format="%%Y-%%m-%%d %%H:%%M:%%S" font-desc=%s valignment=bottom halignment=right shaded-background=true`,
			quote(fmt.Sprintf("%s %d", font, size)))
	}
	return b.String()
}

// x264Fragment is the test encoders' H.264: x264 as fast as it goes, no
// B-frames, an IDR every keyInt frames and none in between (scenecut off),
// so a loop of whole GOPs repeats seamlessly.
func x264Fragment(keyInt, bitrateKbps int) string {
	return fmt.Sprintf("videoconvert ! video/x-raw,format=I420 ! "+
		`x264enc speed-preset=ultrafast tune=zerolatency bframes=0 key-int-max=%d bitrate=%d option-string="scenecut=0" ! %s`,
		keyInt, bitrateKbps, h264Out)
}

// audioSource is a sine tone encoded as codec. frames > 0 makes a finite
// source of that many codec frames; 0 a live one. aacElement names the AAC
// encoder to use (avenc_aac or fdkaacenc).
func audioSource(codec AudioCodec, freq float64, frames int, aacElement string) (string, error) {
	if freq <= 0 {
		freq = DefaultAudioFreq
	}
	spb := audioFrameSamples(codec)
	var b strings.Builder
	b.WriteString("audiotestsrc")
	if frames > 0 {
		fmt.Fprintf(&b, " num-buffers=%d", frames)
	} else {
		b.WriteString(" is-live=true")
	}
	fmt.Fprintf(&b, " wave=sine freq=%g volume=0.3 samplesperbuffer=%d ! audio/x-raw,rate=%d,channels=1 ! audioconvert ! ",
		freq, spb, audioRate)
	enc, err := audioEncoder(codec, aacElement)
	if err != nil {
		return "", err
	}
	b.WriteString(enc)
	return b.String(), nil
}

// audioEncoder is the launch fragment that codes the test sound as codec.
func audioEncoder(codec AudioCodec, aacElement string) (string, error) {
	switch codec {
	case AudioOpus:
		return "opusenc bitrate=64000 frame-size=20", nil
	case AudioAAC:
		if aacElement == "" {
			return "", fmt.Errorf("audio %q: no AAC encoder (avenc_aac, fdkaacenc) installed", codec)
		}
		return aacElement + " bitrate=96000 ! aacparse ! audio/mpeg,mpegversion=4,stream-format=raw", nil
	}
	return "", fmt.Errorf("audio %q: unknown codec; use opus or aac", codec)
}

// audioFrameSamples is the samples per coded frame at 48 kHz.
func audioFrameSamples(codec AudioCodec) int {
	if codec == AudioAAC {
		return 1024
	}
	return 960 // Opus, 20 ms
}

// aacEncoder returns the installed AAC encoder, preferring fdkaacenc
// (better quality) over avenc_aac, or "".
func aacEncoder(has func(string) bool) string {
	for _, e := range []string{"fdkaacenc", "avenc_aac"} {
		if has(e) {
			return e
		}
	}
	return ""
}

// quote makes s one gst-launch value: double-quoted, with backslashes and
// quotes escaped, so a label may hold spaces, quotes and diacritics.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
