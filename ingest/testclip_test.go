package ingest

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
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
}

type clipSpec struct {
	hevc    bool
	bframes bool
	audio   bool
	fps     int
	seconds int
	gop     int // frames between keyframes; default one second
	cbrKbps int // constant bitrate (H.264); default about 600 kbps average
}

// clipCache encodes each kind of clip once per test binary: ffmpeg runs are
// the slow part of these tests on two shared cores.
var clipCache sync.Map // clipSpec -> *clipResult

type clipResult struct {
	once sync.Once
	clip *testClip
	err  error
}

func loadClip(t testing.TB, spec clipSpec) *testClip {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	if spec.fps == 0 {
		spec.fps = 25
	}
	if spec.seconds == 0 {
		spec.seconds = 2
	}
	v, _ := clipCache.LoadOrStore(spec, &clipResult{})
	r := v.(*clipResult)
	r.once.Do(func() {
		dir, err := os.MkdirTemp("", "diemcau-clip-")
		if err != nil {
			r.err = err
			return
		}
		defer os.RemoveAll(dir)
		r.clip, r.err = encodeClip(dir, spec)
	})
	if r.err != nil {
		t.Fatalf("encode test clip: %v", r.err)
	}
	return r.clip
}

func encodeClip(dir string, spec clipSpec) (*testClip, error) {
	mp4 := filepath.Join(dir, "clip.mp4")
	args := []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=320x180:rate=%d", spec.fps)}
	if spec.audio {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")
	}
	args = append(args, "-t", strconv.Itoa(spec.seconds), "-pix_fmt", "yuv420p")
	bf := "0"
	if spec.bframes {
		bf = "2"
	}
	gop := strconv.Itoa(spec.fps)
	if spec.gop > 0 {
		gop = strconv.Itoa(spec.gop)
	}
	if spec.hevc {
		args = append(args, "-c:v", "libx265", "-preset", "veryfast", "-x265-params",
			"log-level=error:bframes="+bf+":keyint="+gop+":min-keyint="+gop+":scenecut=0", "-tag:v", "hvc1")
	} else {
		args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-bf", bf, "-g", gop,
			"-keyint_min", gop, "-sc_threshold", "0")
		if spec.cbrKbps > 0 {
			// Filler data keeps the rate up even on an easy picture.
			rate := strconv.Itoa(spec.cbrKbps) + "k"
			args = append(args, "-b:v", rate, "-minrate", rate, "-maxrate", rate, "-bufsize", rate, "-x264-params", "nal-hrd=cbr")
		} else {
			args = append(args, "-b:v", "600k")
		}
	}
	if spec.audio {
		args = append(args, "-c:a", "aac", "-b:a", "64k", "-ac", "1")
	}
	args = append(args, mp4)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %v: %s", err, out)
	}

	es := filepath.Join(dir, "clip.es")
	bsf := "h264_mp4toannexb,h264_metadata=aud=insert"
	if spec.hevc {
		bsf = "hevc_mp4toannexb,hevc_metadata=aud=insert"
	}
	format := "h264"
	if spec.hevc {
		format = "hevc"
	}
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", mp4,
		"-map", "0:v", "-c", "copy", "-bsf:v", bsf, "-f", format, es).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ffmpeg extract: %v: %s", err, out)
	}
	raw, err := os.ReadFile(es)
	if err != nil {
		return nil, err
	}
	clip := &testClip{hevc: spec.hevc, fps: spec.fps, duration: int64(spec.seconds) * 90000}
	clip.aus = splitAccessUnits(raw, spec.hevc)

	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v",
		"-show_entries", "packet=pts_time,dts_time", "-of", "csv=p=0", mp4).Output()
	if err != nil {
		return nil, fmt.Errorf("ffprobe: %v", err)
	}
	for _, line := range strings.Fields(string(out)) {
		p, d, _ := strings.Cut(line, ",")
		pf, err1 := strconv.ParseFloat(p, 64)
		df, err2 := strconv.ParseFloat(d, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("ffprobe line %q", line)
		}
		clip.pts = append(clip.pts, int64(math.Round(pf*90000)))
		clip.dts = append(clip.dts, int64(math.Round(df*90000)))
	}
	if len(clip.pts) != len(clip.aus) {
		return nil, fmt.Errorf("%d access units but %d packet timestamps", len(clip.aus), len(clip.pts))
	}
	// Shift so the first DTS is zero, as a camera's clock would not be.
	d0 := clip.dts[0]
	for i := range clip.pts {
		clip.pts[i] -= d0
		clip.dts[i] -= d0
	}

	if spec.audio {
		adts := filepath.Join(dir, "clip.aac")
		if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", mp4,
			"-map", "0:a", "-c", "copy", "-f", "adts", adts).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ffmpeg extract audio: %v: %s", err, out)
		}
		buf, err := os.ReadFile(adts)
		if err != nil {
			return nil, err
		}
		var pkts mpeg4audio.ADTSPackets
		if err := pkts.Unmarshal(buf); err != nil {
			return nil, fmt.Errorf("adts: %w", err)
		}
		for _, p := range pkts {
			clip.aac = append(clip.aac, p.AU)
		}
		clip.aacConf = &mpeg4audio.AudioSpecificConfig{
			Type: pkts[0].Type, SampleRate: pkts[0].SampleRate, ChannelCount: pkts[0].ChannelCount,
		}
	}
	return clip, nil
}

// splitAccessUnits cuts an Annex-B stream into access units at the access
// unit delimiters ffmpeg inserted; the delimiters are dropped.
func splitAccessUnits(raw []byte, hevc bool) [][][]byte {
	var aus [][][]byte
	var cur [][]byte
	for _, nalu := range splitAnnexB(raw) {
		aud := false
		if hevc {
			aud = h265.NALUType((nalu[0]>>1)&0x3F) == h265.NALUType_AUD_NUT
		} else {
			aud = h264.NALUType(nalu[0]&0x1F) == h264.NALUTypeAccessUnitDelimiter
		}
		if aud {
			if len(cur) > 0 {
				aus = append(aus, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, nalu)
	}
	if len(cur) > 0 {
		aus = append(aus, cur)
	}
	return aus
}

func splitAnnexB(raw []byte) [][]byte {
	var out [][]byte
	start := -1
	i := 0
	for i+3 <= len(raw) {
		if raw[i] == 0 && raw[i+1] == 0 && raw[i+2] == 1 {
			if start >= 0 {
				out = append(out, bytes.TrimRight(raw[start:i], "\x00"))
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(raw) {
		out = append(out, raw[start:])
	}
	return out
}

// withoutParams returns the access units with their parameter sets removed,
// and those parameter sets: a camera that sends them only in the SDP.
func (c *testClip) withoutParams() (aus [][][]byte, vps, sps, pps []byte) {
	for _, au := range c.aus {
		var keep [][]byte
		for _, n := range au {
			if c.hevc {
				switch h265.NALUType((n[0] >> 1) & 0x3F) {
				case h265.NALUType_VPS_NUT:
					vps = n
					continue
				case h265.NALUType_SPS_NUT:
					sps = n
					continue
				case h265.NALUType_PPS_NUT:
					pps = n
					continue
				}
			} else {
				switch h264.NALUType(n[0] & 0x1F) {
				case h264.NALUTypeSPS:
					sps = n
					continue
				case h264.NALUTypePPS:
					pps = n
					continue
				}
			}
			keep = append(keep, n)
		}
		aus = append(aus, keep)
	}
	return aus, vps, sps, pps
}
