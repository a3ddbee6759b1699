package whep

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"diemcau/pipeline"
)

// testClip is a short H.264 (no B-frames) and Opus clip encoded by ffmpeg,
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

func loadClip(t testing.TB, bframes bool) *testClip {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	clipMu.Lock()
	defer clipMu.Unlock()
	if c := clipCache[clipKey{bframes}]; c != nil {
		return c
	}
	c, err := encodeClip(t.TempDir(), bframes)
	if err != nil {
		t.Fatalf("encode test clip: %v", err)
	}
	clipCache[clipKey{bframes}] = c
	return c
}

func encodeClip(dir string, bframes bool) (*testClip, error) {
	const fps = 25
	bf := "0"
	if bframes {
		bf = "2"
	}
	vid, aud := filepath.Join(dir, "clip.h264"), filepath.Join(dir, "clip.ogg")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-t", "4", "-i", fmt.Sprintf("testsrc2=size=320x180:rate=%d", fps),
		"-f", "lavfi", "-t", "4", "-i", "sine=frequency=440:sample_rate=48000",
		"-map", "0:v", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-bf", bf,
		"-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-b:v", "300k",
		"-bsf:v", "h264_metadata=aud=insert", "-f", "h264", vid,
		"-map", "1:a", "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-ac", "1",
		"-page_duration", "20000", "-f", "ogg", aud)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	raw, err := os.ReadFile(vid)
	if err != nil {
		return nil, err
	}
	var nalus h264.AnnexB
	if err := nalus.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("annex-b: %w", err)
	}
	c := &testClip{fps: fps}
	var cur [][]byte
	flush := func() {
		if len(cur) == 0 {
			return
		}
		key := false
		for _, u := range cur {
			switch h264.NALUType(u[0] & 0x1f) {
			case h264.NALUTypeIDR:
				key = true
			case h264.NALUTypeSPS:
				if c.sps == nil {
					c.sps = u
				}
			case h264.NALUTypePPS:
				if c.pps == nil {
					c.pps = u
				}
			}
		}
		c.aus = append(c.aus, cur)
		c.keys = append(c.keys, key)
		cur = nil
	}
	for _, u := range nalus {
		if len(u) == 0 {
			continue
		}
		if h264.NALUType(u[0]&0x1f) == h264.NALUTypeAccessUnitDelimiter {
			flush()
			continue
		}
		cur = append(cur, u)
	}
	flush()
	if c.sps == nil || c.pps == nil || !c.keys[0] {
		return nil, fmt.Errorf("clip has no SPS/PPS or does not start with a keyframe")
	}
	ogg, err := os.ReadFile(aud)
	if err != nil {
		return nil, err
	}
	pkts, err := oggPackets(ogg)
	if err != nil {
		return nil, err
	}
	if len(pkts) < 3 {
		return nil, fmt.Errorf("ogg has %d packets", len(pkts))
	}
	c.opus = pkts[2:] // OpusHead and OpusTags first
	c.video = &pipeline.Track{Codec: pipeline.H264, SPS: c.sps, PPS: c.pps, Width: 320, Height: 180, FPS: fps}
	c.audio = &pipeline.Track{Codec: pipeline.Opus, SampleRate: 48000, Channels: 1}
	return c, nil
}

// oggPackets splits an Ogg stream into its packets (RFC 3533 lacing).
func oggPackets(b []byte) ([][]byte, error) {
	var out [][]byte
	var cur []byte
	for len(b) > 0 {
		if len(b) < 27 || string(b[:4]) != "OggS" {
			return nil, fmt.Errorf("ogg: bad page header")
		}
		nseg := int(b[26])
		if len(b) < 27+nseg {
			return nil, fmt.Errorf("ogg: short segment table")
		}
		lacing := b[27 : 27+nseg]
		body := b[27+nseg:]
		_ = binary.LittleEndian.Uint32(b[18:22]) // page sequence, unused
		for _, l := range lacing {
			if len(body) < int(l) {
				return nil, fmt.Errorf("ogg: short page")
			}
			cur = append(cur, body[:l]...)
			body = body[l:]
			if l < 255 {
				out = append(out, cur)
				cur = nil
			}
		}
		consumed := len(b) - len(body)
		b = b[consumed:]
	}
	return out, nil
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
