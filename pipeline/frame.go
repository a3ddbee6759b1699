// Package pipeline is the media spine of diemcau: the frames that flow from
// cameras to outputs, and the Stream that fans one writer out to many readers.
package pipeline

import (
	"fmt"
	"time"
)

// Kind tells video from audio.
type Kind uint8

// Kinds of track.
const (
	Video Kind = iota + 1
	Audio
)

func (k Kind) String() string {
	switch k {
	case Video:
		return "video"
	case Audio:
		return "audio"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Codec names a coded format as diemcau carries it.
type Codec string

// Codecs carried by a Stream.
const (
	H264 Codec = "h264"
	H265 Codec = "h265"
	AAC  Codec = "aac"  // MPEG-4 audio, AAC-LC and friends
	Opus Codec = "opus" // 48 kHz clock
	PCMU Codec = "pcmu" // G.711 µ-law
	PCMA Codec = "pcma" // G.711 A-law
)

// Kind returns whether the codec is video or audio; 0 for an unknown codec.
func (c Codec) Kind() Kind {
	switch c {
	case H264, H265:
		return Video
	case AAC, Opus, PCMU, PCMA:
		return Audio
	}
	return 0
}

// Track describes one elementary stream and its codec parameters. A Track is
// immutable once published: a change of parameters (new SPS, other size) is
// a new *Track, so a reader notices a change by comparing pointers.
type Track struct {
	Index int // position in the Stream's track list
	Codec Codec

	// Video parameters. VPS is H.265 only.
	VPS, SPS, PPS []byte
	Width, Height int
	Profile       string // "high", "main", "constrained-baseline", …
	FPS           float64

	// Audio parameters. Config is the AAC AudioSpecificConfig.
	SampleRate int
	Channels   int
	Config     []byte
}

// Kind is the track's kind, from its codec.
func (t *Track) Kind() Kind { return t.Codec.Kind() }

// ClockRate is the RTP clock rate conventionally used for the track.
func (t *Track) ClockRate() int {
	switch t.Codec {
	case H264, H265:
		return 90000
	case Opus:
		return 48000
	case PCMU, PCMA:
		return 8000
	}
	if t.SampleRate > 0 {
		return t.SampleRate
	}
	return 90000
}

// Frame is one access unit: a whole video picture (all its NAL units) or one
// coded audio frame. Frames are shared between readers and must not be
// modified after Stream.Write.
type Frame struct {
	Track *Track

	// PTS and DTS are on the stream's own timeline, starting near zero.
	PTS, DTS time.Duration
	// Wall is the wall-clock time the frame was captured or received.
	Wall time.Time
	// Key marks a video frame a decoder can start from (IDR with parameters).
	Key bool

	NALUs   [][]byte // video: the access unit's NAL units, without start codes
	Payload []byte   // audio: one coded frame
}

// Size is the number of payload bytes the frame carries.
func (f *Frame) Size() int {
	n := len(f.Payload)
	for _, u := range f.NALUs {
		n += len(u)
	}
	return n
}
