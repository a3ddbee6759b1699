// Package avsync is the lip-sync meter behind `diemcau probe --av`. A
// decoder (ffmpeg for RTSP and files, a pion WHEP client feeding ffmpeg for
// WebRTC) turns a feed into a Capture: a tiny luma picture per video frame
// and mono PCM, both with their presentation times. Analyze, pure Go, finds
// the avsync pattern's flashes and beeps in it and reports the A/V offset,
// the audio rate and level, holes and freezes per track, and a verdict
// against EBU R37.
package avsync

import "time"

// The decoded picture is scaled (area average) to GridW × GridH luma cells:
// enough to see one tile of a 4×4 composite flash, small enough that a
// frame costs nothing to keep.
const (
	GridW = 32
	GridH = 18
)

// AudioRate is the rate decoded sound is resampled to (mono).
const AudioRate = 48000

// Picture is one decoded video frame: its PTS and its luma cells, row by
// row, full range (0 black, 255 white).
type Picture struct {
	PTS  time.Duration
	Luma []uint8 // GridW*GridH
}

// Chunk is one decoded audio frame: its PTS and its samples at AudioRate.
type Chunk struct {
	PTS     time.Duration
	Samples []int16
}

// Declared is what the feed says it carries, as the demuxer reads it.
type Declared struct {
	VideoCodec string
	Width      int
	Height     int
	FPS        float64 // 0: not declared
	AudioCodec string  // "": no audio track
	SampleRate int
	Channels   int
}

// Capture is a decoded stretch of a feed, in presentation order per track.
type Capture struct {
	Declared Declared
	Pictures []Picture
	Chunks   []Chunk
	// Clock says how the tracks were put on one timeline when that was
	// not the container's doing (WHEP: "rtcp" sender reports, or
	// "arrival" when the sender sent none).
	Clock string
}

// after drops the first d of the capture, from its earliest frame.
func (c Capture) after(d time.Duration) Capture {
	var start time.Duration
	switch {
	case len(c.Pictures) > 0 && len(c.Chunks) > 0:
		start = min(c.Pictures[0].PTS, c.Chunks[0].PTS)
	case len(c.Pictures) > 0:
		start = c.Pictures[0].PTS
	case len(c.Chunks) > 0:
		start = c.Chunks[0].PTS
	}
	cut := start + d
	i := 0
	for i < len(c.Pictures) && c.Pictures[i].PTS < cut {
		i++
	}
	j := 0
	for j < len(c.Chunks) && c.Chunks[j].PTS < cut {
		j++
	}
	c.Pictures, c.Chunks = c.Pictures[i:], c.Chunks[j:]
	return c
}
