package ingest

import (
	"sync"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"diemcau/internal/testclip"
)

// testClip is a short clip encoded by ffmpeg, split into access units in
// decode order with their timestamps (90 kHz), as a camera would send it.
type testClip struct {
	hevc     bool
	aus      [][][]byte // NAL units of each access unit, parameter sets in-band
	pts, dts []int64
	fps      int
	duration int64 // 90 kHz, for looping

	aac     [][]byte // raw AAC access units, 1024 samples each
	aacConf *mpeg4audio.AudioSpecificConfig

	src *testclip.Clip
}

type clipSpec struct {
	hevc    bool
	bframes bool
	audio   bool
	fps     int
	seconds int
	gop     int // frames between keyframes; default one second
	cbrKbps int // constant bitrate (H.264); default 600 kbps average (H.264), x265's default quality (H.265)
}

var (
	clipMu    sync.Mutex
	clipCache = map[clipSpec]*testClip{}
)

// loadClip is 320x180 video, 600 kbit/s on average unless cbrKbps says
// otherwise, with mono AAC where asked; testclip encodes each spec once
// per test binary (ffmpeg runs are the slow part of these tests).
func loadClip(t testing.TB, spec clipSpec) *testClip {
	t.Helper()
	if spec.fps == 0 {
		spec.fps = 25
	}
	if spec.seconds == 0 {
		spec.seconds = 2
	}
	clipMu.Lock()
	defer clipMu.Unlock()
	if c := clipCache[spec]; c != nil {
		return c
	}
	ts := testclip.Spec{FPS: spec.fps, Seconds: spec.seconds, GOP: spec.gop, BFrames: spec.bframes, HEVC: spec.hevc}
	switch {
	case spec.hevc: // x265 at its default quality and open GOPs
		ts.OpenGOP = true
	case spec.cbrKbps > 0:
		ts.Kbps, ts.Rate = spec.cbrKbps, testclip.CBR
	default:
		ts.Kbps = 600
	}
	if spec.audio {
		ts.Audio = testclip.AAC
	}
	tc := testclip.Load(t, ts)
	c := &testClip{hevc: spec.hevc, aus: tc.AUs, pts: tc.PTS, dts: tc.DTS, fps: spec.fps, duration: int64(spec.seconds) * 90000,
		aac: tc.Packets, aacConf: tc.AAC, src: tc}
	clipCache[spec] = c
	return c
}

// withoutParams returns the access units with their parameter sets removed,
// and those parameter sets: a camera that sends them only in the SDP.
func (c *testClip) withoutParams() (aus [][][]byte, vps, sps, pps []byte) {
	return c.src.OutOfBand(), c.src.VPS, c.src.SPS, c.src.PPS
}
