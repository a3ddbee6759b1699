package whipclient

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// EncodeClip makes a clip with ffmpeg, as a browser's encoder would send
// it: H.264 constrained baseline without B-frames, a keyframe every two
// seconds, and 20 ms Opus packets of a tone.
func EncodeClip(dir string, width, height, fps, kbps, seconds int) (*Clip, error) {
	vid, aud := filepath.Join(dir, "whip.h264"), filepath.Join(dir, "whip.ogg")
	dur := strconv.Itoa(seconds)
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-t", dur, "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", width, height, fps),
		"-f", "lavfi", "-t", dur, "-i", "sine=frequency=660:sample_rate=48000",
		"-map", "0:v", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-bf", "0",
		"-g", strconv.Itoa(2*fps), "-keyint_min", strconv.Itoa(2*fps), "-sc_threshold", "0",
		"-b:v", fmt.Sprintf("%dk", kbps), "-maxrate", fmt.Sprintf("%dk", kbps), "-bufsize", fmt.Sprintf("%dk", kbps),
		"-bsf:v", "h264_metadata=aud=insert", "-f", "h264", vid,
		"-map", "1:a", "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-ac", "2",
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
	c := &Clip{FPS: fps}
	var cur [][]byte
	flush := func() {
		if len(cur) > 0 {
			key := false
			for _, u := range cur {
				key = key || h264.NALUType(u[0]&0x1f) == h264.NALUTypeIDR
			}
			c.AUs, c.Keys = append(c.AUs, cur), append(c.Keys, key)
		}
		cur = nil
	}
	for _, u := range nalus {
		if len(u) == 0 {
			continue
		}
		switch h264.NALUType(u[0] & 0x1f) {
		case h264.NALUTypeAccessUnitDelimiter:
			flush()
			continue
		case h264.NALUTypeSPS:
			c.SPS = u
			continue
		case h264.NALUTypePPS:
			c.PPS = u
			continue
		}
		cur = append(cur, u)
	}
	flush()
	if c.SPS == nil || c.PPS == nil || len(c.Keys) == 0 || !c.Keys[0] {
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
	c.Opus = pkts[2:] // after OpusHead and OpusTags
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
		lacing, body := b[27:27+nseg], b[27+nseg:]
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
		b = body
	}
	return out, nil
}
