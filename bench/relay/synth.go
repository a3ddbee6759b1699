package relay

import (
	"context"
	"math/rand/v2"
	"time"

	"diemcau/pipeline"
)

// synth is a camera for the relay scenario: H.264 access units of the sizes
// a 2 Mbps encoder makes (a keyframe five times a P-frame) and 20 ms Opus
// frames. The payload is random: a relay never decodes, it only packetises,
// encrypts and sends, so the bytes do not change its cost.
type synth struct {
	stream       *pipeline.Stream
	video, audio *pipeline.Track
	fps          int
	keyEvery     int
	key, p       []byte
	opus         []byte
}

// A constrained-baseline 720p SPS and its PPS, as an IP camera sends them.
var (
	synthSPS = []byte{0x67, 0x42, 0xc0, 0x1f, 0xd9, 0x00, 0x50, 0x05, 0xbb, 0x01, 0x10}
	synthPPS = []byte{0x68, 0xce, 0x3c, 0x80}
)

func newSynth(name string, kbps, fps int, gop time.Duration, audio bool) *synth {
	keyEvery := max(1, int(gop.Seconds()*float64(fps)))
	// keyEvery frames carry kbps*gop bits; the keyframe counts as five.
	gopBytes := kbps * 1000 / 8 * keyEvery / fps
	pSize := gopBytes / (keyEvery + 4)
	s := &synth{
		video:    &pipeline.Track{Codec: pipeline.H264, SPS: synthSPS, PPS: synthPPS, Width: 1280, Height: 720, FPS: float64(fps), Profile: "constrained-baseline"},
		fps:      fps,
		keyEvery: keyEvery,
		key:      randomNALU(0x65, 5*pSize),
		p:        randomNALU(0x41, pSize),
	}
	tracks := []*pipeline.Track{s.video}
	if audio {
		s.audio = &pipeline.Track{Codec: pipeline.Opus, SampleRate: 48000, Channels: 2}
		s.opus = randomNALU(0x78, 80) // 32 kbps
		tracks = append(tracks, s.audio)
	}
	s.stream = pipeline.NewStream(name, tracks...)
	return s
}

func randomNALU(header byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	b[0] = header
	return b
}

func (s *synth) videoFrame(i int) *pipeline.Frame {
	key := i%s.keyEvery == 0
	nalu := s.p
	if key {
		nalu = s.key
	}
	pts := time.Duration(i) * time.Second / time.Duration(s.fps)
	return &pipeline.Frame{Track: s.video, PTS: pts, DTS: pts, Wall: time.Now(), Key: key, NALUs: [][]byte{nalu}}
}

func (s *synth) audioFrame(i int) *pipeline.Frame {
	pts := time.Duration(i) * 20 * time.Millisecond
	return &pipeline.Frame{Track: s.audio, PTS: pts, DTS: pts, Wall: time.Now(), Payload: s.opus}
}

// run writes frames in real time until ctx ends.
func (s *synth) run(ctx context.Context) {
	start := time.Now()
	frame := time.Second / time.Duration(s.fps)
	var vi, ai int
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		vpts := time.Duration(vi) * frame
		apts := time.Duration(ai) * 20 * time.Millisecond
		next := vpts
		if s.audio != nil && apts < vpts {
			next = apts
		}
		timer.Reset(time.Until(start.Add(next)))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if next == vpts {
			s.stream.Write(s.videoFrame(vi))
			vi++
		} else {
			s.stream.Write(s.audioFrame(ai))
			ai++
		}
	}
}
