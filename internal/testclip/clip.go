// Package testclip is test support: it encodes a short clip with ffmpeg, as
// a camera, an encoder or a browser would send it, and reads it back into
// access units and audio packets, so that every test feeding real media
// makes and parses it the same way.
package testclip

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// Audio is the sound a clip carries.
type Audio int

const (
	NoAudio Audio = iota
	Opus          // 20 ms packets at 48 kHz, 32 kbit/s, from Ogg
	AAC           // AAC-LC at 48 kHz, 64 kbit/s, 1024 samples a frame, from ADTS
	PCMU          // G.711 µ-law at 8 kHz, cut in 20 ms (160 byte) packets
)

// Rate is how the video encoder spends bits.
type Rate int

const (
	Average Rate = iota // Kbps on average (or the encoder's default quality when 0)
	Capped              // Kbps at most, with a one-second buffer: a browser's encoder
	CBR                 // Kbps constant, filler data included: a camera set to CBR
)

// Spec says what to encode; the zero value of a field takes its default.
type Spec struct {
	Width, Height int    // 320x180
	FPS           int    // 25
	Seconds       int    // 2
	GOP           int    // frames from keyframe to keyframe, exactly: FPS
	BFrames       bool   // two B-frames between references
	HEVC          bool   // H.265 rather than H.264
	OpenGOP       bool   // H.265: x265's default open GOPs (CRA keyframes after the first)
	Baseline      bool   // H.264 constrained baseline, as a browser sends
	Preset        string // the x264/x265 preset: veryfast
	Kbps          int    // video bitrate; 0 leaves it to the encoder's quality
	Rate          Rate
	BufferKbps    int // the rate buffer of Capped and CBR: Kbps
	Audio         Audio
	Stereo        bool // two channels (Opus, AAC) rather than one
	ToneHz        int  // the tone's pitch: 440
}

func (s Spec) withDefaults() Spec {
	if s.Width == 0 || s.Height == 0 {
		s.Width, s.Height = 320, 180
	}
	if s.FPS == 0 {
		s.FPS = 25
	}
	if s.Seconds == 0 {
		s.Seconds = 2
	}
	if s.GOP == 0 {
		s.GOP = s.FPS
	}
	if s.Preset == "" {
		s.Preset = "veryfast"
	}
	if s.ToneHz == 0 {
		s.ToneHz = 440
	}
	return s
}

// Clip is an encoded clip read back.
type Clip struct {
	Spec Spec // with its defaults filled in

	// AUs are the access units in decode order, delimiters removed; a
	// keyframe's parameter sets are in it (OutOfBand takes them out).
	AUs  [][][]byte
	Keys []bool // AUs[i] is a random access point
	// PTS and DTS of each access unit (90 kHz), the first DTS zero.
	PTS, DTS []int64
	// The clip's parameter sets (VPS for H.265 only).
	VPS, SPS, PPS []byte

	// Packets are the audio packets in order: Opus packets without the
	// two Ogg header packets, raw AAC access units, or G.711 samples.
	Packets    [][]byte
	SampleRate int
	Channels   int
	AAC        *mpeg4audio.AudioSpecificConfig // AAC only
}

// Encode runs ffmpeg in dir once and reads what it wrote.
func Encode(dir string, spec Spec) (*Clip, error) {
	s := spec.withDefaults()
	vid, ts := filepath.Join(dir, "clip.es"), filepath.Join(dir, "clip.framecrc")
	dur := strconv.Itoa(s.Seconds)
	args := []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-t", dur, "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", s.Width, s.Height, s.FPS)}
	rate := 48000
	if s.Audio == PCMU {
		rate = 8000
	}
	if s.Audio != NoAudio {
		args = append(args, "-f", "lavfi", "-t", dur, "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=%d", s.ToneHz, rate))
	}
	args = append(args, "-map", "0:v")
	args = append(args, videoArgs(s)...)
	// One encode, two outputs: the elementary stream with a delimiter
	// before each access unit, and each packet's timestamps.
	format, bsf := "h264", "h264_metadata=aud=insert"
	if s.HEVC {
		format, bsf = "hevc", "hevc_metadata=aud=insert"
	}
	args = append(args, "-f", "tee", fmt.Sprintf("[f=%s:bsfs/v=%s]%s|[f=framecrc]%s", format, bsf, vid, ts))
	aud := ""
	if s.Audio != NoAudio {
		var a []string
		aud, a = audioArgs(s, dir)
		args = append(append(args, "-map", "1:a"), a...)
	}
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	c := &Clip{Spec: s}
	if err := c.readVideo(vid, ts); err != nil {
		return nil, err
	}
	if s.Audio != NoAudio {
		if err := c.readAudio(aud); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func videoArgs(s Spec) []string {
	bf, gop := "0", strconv.Itoa(s.GOP)
	if s.BFrames {
		bf = "2"
	}
	a := []string{"-pix_fmt", "yuv420p"}
	if s.HEVC {
		// repeat-headers: each keyframe carries its parameter sets, as
		// it does in H.264 written without a global header.
		open := "0"
		if s.OpenGOP {
			open = "1"
		}
		a = append(a, "-c:v", "libx265", "-preset", s.Preset, "-x265-params",
			"log-level=error:bframes="+bf+":keyint="+gop+":min-keyint="+gop+":scenecut=0:open-gop="+open+":repeat-headers=1")
	} else {
		a = append(a, "-c:v", "libx264", "-preset", s.Preset, "-bf", bf, "-g", gop, "-keyint_min", gop, "-sc_threshold", "0")
		if s.Baseline {
			a = append(a, "-profile:v", "baseline")
		}
	}
	if s.Kbps > 0 {
		k, buf := strconv.Itoa(s.Kbps)+"k", strconv.Itoa(s.Kbps)+"k"
		if s.BufferKbps > 0 {
			buf = strconv.Itoa(s.BufferKbps) + "k"
		}
		a = append(a, "-b:v", k)
		switch s.Rate {
		case Capped:
			a = append(a, "-maxrate", k, "-bufsize", buf)
		case CBR:
			a = append(a, "-minrate", k, "-maxrate", k, "-bufsize", buf)
			if !s.HEVC {
				a = append(a, "-x264-params", "nal-hrd=cbr")
			}
		}
	}
	return a
}

// audioArgs returns the audio file and the arguments that write it.
func audioArgs(s Spec, dir string) (string, []string) {
	ch := "1"
	if s.Stereo && s.Audio != PCMU {
		ch = "2"
	}
	switch s.Audio {
	case Opus:
		p := filepath.Join(dir, "clip.ogg")
		return p, []string{"-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-ac", ch,
			"-page_duration", "20000", "-f", "ogg", p}
	case AAC:
		p := filepath.Join(dir, "clip.aac")
		return p, []string{"-c:a", "aac", "-b:a", "64k", "-ac", ch, "-f", "adts", p}
	default:
		p := filepath.Join(dir, "clip.ulaw")
		return p, []string{"-c:a", "pcm_mulaw", "-ac", ch, "-f", "mulaw", p}
	}
}

func (c *Clip) readVideo(vid, ts string) error {
	raw, err := os.ReadFile(vid)
	if err != nil {
		return err
	}
	c.AUs, err = AccessUnits(raw, c.Spec.HEVC)
	if err != nil {
		return err
	}
	crc, err := os.ReadFile(ts)
	if err != nil {
		return err
	}
	if c.PTS, c.DTS, err = frameTimes(crc); err != nil {
		return err
	}
	if len(c.PTS) != len(c.AUs) {
		return fmt.Errorf("%d access units but %d packet timestamps", len(c.AUs), len(c.PTS))
	}
	for _, au := range c.AUs {
		c.Keys = append(c.Keys, IsKey(au, c.Spec.HEVC))
		if c.SPS == nil {
			c.VPS, c.SPS, c.PPS = ParamSets(au, c.Spec.HEVC)
		}
	}
	if c.SPS == nil || c.PPS == nil || len(c.Keys) == 0 || !c.Keys[0] {
		return fmt.Errorf("clip has no parameter sets or does not start with a keyframe")
	}
	return nil
}

func (c *Clip) readAudio(p string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	switch c.Spec.Audio {
	case Opus:
		c.Packets, c.Channels, err = OpusPackets(b)
		c.SampleRate = 48000
	case AAC:
		c.Packets, c.AAC, err = ADTSFrames(b)
		if err == nil {
			c.SampleRate, c.Channels = c.AAC.SampleRate, c.AAC.ChannelCount
		}
	default:
		c.Packets, c.SampleRate, c.Channels = G711Packets(b), 8000, 1
	}
	return err
}
