package whep

import (
	"context"
	"sync"
	"testing"
	"time"

	"diemcau/internal/testclip"
	"diemcau/pipeline"
)

// testClip is a short H.264 and Opus clip encoded by ffmpeg (testclip),
// split into access units and Opus packets, to feed a pipeline.Stream as a
// camera would.
type testClip struct {
	aus   [][][]byte // NAL units per access unit, delimiters removed
	keys  []bool
	sps   []byte
	pps   []byte
	fps   int
	opus  [][]byte // 20 ms packets
	video *pipeline.Track
	audio *pipeline.Track
}

type clipKey struct{ bframes bool }

var (
	clipMu    sync.Mutex
	clipCache = map[clipKey]*testClip{}
)

// loadClip is four seconds of 320x180 H.264 at 25 fps and 300 kbit/s, a
// keyframe every two seconds with its parameter sets in it, and mono Opus.
func loadClip(t testing.TB, bframes bool) *testClip {
	t.Helper()
	clipMu.Lock()
	defer clipMu.Unlock()
	if c := clipCache[clipKey{bframes}]; c != nil {
		return c
	}
	const fps = 25
	tc := testclip.Load(t, testclip.Spec{FPS: fps, Seconds: 4, GOP: 50, BFrames: bframes, Kbps: 300, Audio: testclip.Opus})
	c := &testClip{aus: tc.AUs, keys: tc.Keys, sps: tc.SPS, pps: tc.PPS, fps: fps, opus: tc.Packets}
	c.video = &pipeline.Track{Codec: pipeline.H264, SPS: c.sps, PPS: c.pps, Width: 320, Height: 180, FPS: fps}
	c.audio = &pipeline.Track{Codec: pipeline.Opus, SampleRate: 48000, Channels: 1}
	clipCache[clipKey{bframes}] = c
	return c
}

// feed writes the clip into the stream in real time, looping, until ctx
// ends. With reorder set, every third video frame goes out before the one
// it follows: time goes back as B-frames would make it.
func (c *testClip) feed(ctx context.Context, s *pipeline.Stream, reorder bool) {
	frame := time.Second / time.Duration(c.fps)
	audioStep := 20 * time.Millisecond
	start := time.Now()
	var vi, ai int
	for {
		vpts := time.Duration(vi) * frame
		apts := time.Duration(ai) * audioStep
		next := min(vpts, apts)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(next))):
		}
		if vpts <= apts {
			i := vi % len(c.aus)
			pts := vpts
			if reorder && vi%3 == 1 {
				pts += 2 * frame
			}
			s.Write(&pipeline.Frame{Track: c.video, PTS: pts, DTS: vpts, Wall: time.Now(), Key: c.keys[i], NALUs: c.aus[i]})
			vi++
		} else {
			s.Write(&pipeline.Frame{Track: c.audio, PTS: apts, DTS: apts, Wall: time.Now(), Payload: c.opus[ai%len(c.opus)]})
			ai++
		}
	}
}
