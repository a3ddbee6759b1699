package recorder

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"diemcau/pipeline"
)

// clip is real media made by ffmpeg and split into pipeline frames: H.264
// at 25 fps with a keyframe every second, and optionally AAC or G.711.
type clip struct {
	video    *pipeline.Track
	audio    *pipeline.Track
	frames   []*pipeline.Frame // ordered by PTS, video first on a tie
	duration time.Duration
	videoN   int
	audioN   int
}

const videoFrame = 40 * time.Millisecond

func needFFmpeg(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
}

func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

// makeClip encodes seconds of an H.264 test pattern of the given size;
// audio is "", "aac", "pcmu" or "opus".
func makeClip(t testing.TB, size string, seconds int, audio string) *clip {
	return makeClipCodec(t, pipeline.H264, size, seconds, audio)
}

// makeClipCodec is makeClip with H.264 or H.265 video.
func makeClipCodec(t testing.TB, video pipeline.Codec, size string, seconds int, audio string) *clip {
	t.Helper()
	needFFmpeg(t)
	dir := t.TempDir()
	c := &clip{duration: time.Duration(seconds) * time.Second}
	src := []string{"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=25", "-t", strconv.Itoa(seconds), "-pix_fmt", "yuv420p"}
	switch video {
	case pipeline.H264:
		p := filepath.Join(dir, "v.h264")
		ffmpeg(t, append(src, "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "25", "-f", "h264", p)...)
		c.readAnnexB(t, p, pipeline.H264)
	case pipeline.H265:
		p := filepath.Join(dir, "v.h265")
		ffmpeg(t, append(src, "-c:v", "libx265", "-preset", "ultrafast",
			"-x265-params", "log-level=error:keyint=25:min-keyint=25:open-gop=0:bframes=0:repeat-headers=1", "-f", "hevc", p)...)
		c.readAnnexB(t, p, pipeline.H265)
	}
	switch audio {
	case "aac":
		p := filepath.Join(dir, "a.aac")
		ffmpeg(t, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", strconv.Itoa(seconds),
			"-c:a", "aac", "-b:a", "64k", "-f", "adts", p)
		c.readADTS(t, p)
	case "pcmu":
		p := filepath.Join(dir, "a.ulaw")
		ffmpeg(t, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000", "-t", strconv.Itoa(seconds),
			"-c:a", "pcm_mulaw", "-ac", "1", "-f", "mulaw", p)
		c.readG711(t, p)
	case "opus":
		p := filepath.Join(dir, "a.opus")
		ffmpeg(t, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", strconv.Itoa(seconds),
			"-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-f", "ogg", p)
		c.readOgg(t, p)
	}
	slices.SortStableFunc(c.frames, func(a, b *pipeline.Frame) int {
		if a.PTS != b.PTS {
			return int(a.PTS - b.PTS)
		}
		return int(a.Track.Kind()) - int(b.Track.Kind())
	})
	return c
}

// readAnnexB splits an elementary stream into access units: a new one
// starts at a parameter set, SEI or delimiter after a slice, or at a slice
// that is the first of its picture.
func (c *clip) readAnnexB(t testing.TB, p string, codec pipeline.Codec) {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var nalus h264.AnnexB
	if err := nalus.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	c.video = &pipeline.Track{Codec: codec, FPS: 25}
	var aus [][][]byte
	var cur [][]byte
	hasSlice := false
	for _, n := range nalus {
		isSlice, firstSlice, header := naluKind(codec, n)
		if (isSlice && hasSlice && firstSlice) || (header && hasSlice) {
			aus = append(aus, cur)
			cur, hasSlice = nil, false
		}
		cur = append(cur, n)
		hasSlice = hasSlice || isSlice
	}
	aus = append(aus, cur)
	for i, au := range aus {
		vps, sps, pps := paramSets(codec, au)
		if c.video.SPS == nil && sps != nil {
			c.video.VPS, c.video.SPS, c.video.PPS = vps, sps, pps
		}
		key := false
		if codec == pipeline.H264 {
			key = h264.IsRandomAccess(au)
		} else {
			key = h265.IsRandomAccess(au)
		}
		ts := time.Duration(i) * videoFrame
		c.frames = append(c.frames, &pipeline.Frame{Track: c.video, PTS: ts, DTS: ts, Key: key, NALUs: au})
	}
	c.videoN = len(aus)
	if c.video.SPS == nil || !c.frames[0].Key {
		t.Fatalf("%s: no parameter sets or no keyframe first", p)
	}
}

func naluKind(codec pipeline.Codec, n []byte) (isSlice, firstSlice, header bool) {
	if codec == pipeline.H264 {
		typ := h264.NALUType(n[0] & 0x1f)
		isSlice = typ == h264.NALUTypeIDR || typ == h264.NALUTypeNonIDR
		header = typ == h264.NALUTypeSPS || typ == h264.NALUTypePPS || typ == h264.NALUTypeSEI || typ == h264.NALUTypeAccessUnitDelimiter
		return isSlice, isSlice && n[1]&0x80 != 0, header // first_mb_in_slice == 0
	}
	typ := h265.NALUType((n[0] >> 1) & 0x3f)
	isSlice = typ < 32
	header = typ >= h265.NALUType_VPS_NUT && typ <= h265.NALUType_PREFIX_SEI_NUT
	return isSlice, isSlice && n[2]&0x80 != 0, header // first_slice_segment_in_pic_flag
}

// readOgg takes the Opus packets out of an Ogg file (RFC 7845), skipping
// the two header packets.
func (c *clip) readOgg(t testing.TB, p string) {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	c.audio = &pipeline.Track{Codec: pipeline.Opus, SampleRate: 48000, Channels: 1}
	var packets [][]byte
	var cur []byte
	for len(data) >= 27 && string(data[:4]) == "OggS" {
		nseg := int(data[26])
		lacing := data[27 : 27+nseg]
		body := data[27+nseg:]
		for _, l := range lacing {
			cur = append(cur, body[:l]...)
			body = body[l:]
			if l < 255 {
				packets = append(packets, cur)
				cur = nil
			}
		}
		data = body
	}
	if len(packets) < 3 || !bytes.HasPrefix(packets[0], []byte("OpusHead")) {
		t.Fatalf("%s: not an Ogg Opus file", p)
	}
	c.audio.Channels = int(packets[0][9])
	for i, pk := range packets[2:] {
		ts := time.Duration(i) * 20 * time.Millisecond
		if ts+20*time.Millisecond > c.duration {
			break
		}
		c.frames = append(c.frames, &pipeline.Frame{Track: c.audio, PTS: ts, DTS: ts, Payload: pk})
		c.audioN++
	}
}

func (c *clip) readADTS(t testing.TB, p string) {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	conf := mpeg4audio.AudioSpecificConfig{Type: pkts[0].Type, SampleRate: pkts[0].SampleRate, ChannelCount: pkts[0].ChannelCount}
	cb, err := conf.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c.audio = &pipeline.Track{Codec: pipeline.AAC, SampleRate: conf.SampleRate, Channels: conf.ChannelCount, Config: cb}
	for i, pk := range pkts {
		ts := time.Duration(i) * 1024 * time.Second / time.Duration(conf.SampleRate)
		if ts+1024*time.Second/time.Duration(conf.SampleRate) > c.duration {
			break // the clip loops: its audio must end with its video
		}
		c.frames = append(c.frames, &pipeline.Frame{Track: c.audio, PTS: ts, DTS: ts, Payload: pk.AU})
		c.audioN++
	}
}

func (c *clip) readG711(t testing.TB, p string) {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	c.audio = &pipeline.Track{Codec: pipeline.PCMU, SampleRate: 8000, Channels: 1}
	for i := 0; i+160 <= len(data); i += 160 {
		ts := time.Duration(i) * time.Second / 8000
		c.frames = append(c.frames, &pipeline.Frame{Track: c.audio, PTS: ts, DTS: ts, Payload: data[i : i+160]})
		c.audioN++
	}
}

// feeder writes a clip into a stream again and again, its timestamps going
// on from loop to loop, at speed times real time.
type feeder struct {
	clip   *clip
	stream *pipeline.Stream
	wall   time.Time
	speed  float64
	pos    int           // next frame of the clip
	loop   time.Duration // offset of the current loop
	fed    time.Duration // media time written so far (end of the last video frame)
	videoN int
	audioN int
}

func newFeeder(c *clip, name string, speed float64) *feeder {
	return &feeder{clip: c, stream: pipeline.NewStream(name, c.tracks()...), wall: time.Now(), speed: speed}
}

func (c *clip) tracks() []*pipeline.Track {
	if c.audio == nil {
		return []*pipeline.Track{c.video}
	}
	return []*pipeline.Track{c.video, c.audio}
}

// feedUntil writes frames until media time until; it paces itself so that
// the media runs at speed times real time, starting now.
func (fd *feeder) feedUntil(ctx context.Context, until time.Duration) error {
	start, from := time.Now(), fd.loop+fd.clip.frames[fd.pos].PTS
	for {
		f := fd.clip.frames[fd.pos]
		ts := fd.loop + f.PTS
		if ts >= until {
			return nil
		}
		if wait := time.Duration(float64(ts-from)/fd.speed) - time.Since(start); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		out := *f
		out.PTS, out.DTS, out.Wall = ts, fd.loop+f.DTS, fd.wall.Add(ts)
		fd.stream.Write(&out)
		if f.Track.Kind() == pipeline.Video {
			fd.videoN++
			fd.fed = ts + videoFrame
		} else {
			fd.audioN++
		}
		fd.pos++
		if fd.pos == len(fd.clip.frames) {
			fd.pos, fd.loop = 0, fd.loop+fd.clip.duration
		}
	}
}

// probe is what ffprobe reports of a file.
type probe struct {
	Streams []struct {
		CodecName    string `json:"codec_name"`
		CodecType    string `json:"codec_type"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		SampleRate   string `json:"sample_rate"`
		NbReadFrames string `json:"nb_read_frames"`
		Duration     string `json:"duration"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
	Packets []struct {
		StreamIndex int    `json:"stream_index"`
		PTS         int64  `json:"pts"`
		DTS         int64  `json:"dts"`
		Flags       string `json:"flags"`
	} `json:"packets"`
}

func ffprobe(t testing.TB, p string) probe {
	t.Helper()
	cmd := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format",
		"-show_entries", "packet=stream_index,pts,dts,flags", "-of", "json", p)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", p, err, stderr.Bytes())
	}
	var pr probe
	if err := json.Unmarshal(out, &pr); err != nil {
		t.Fatalf("ffprobe %s: %v", p, err)
	}
	return pr
}

func (p probe) stream(kind string) (int, string, int, int, int) {
	for i, s := range p.Streams {
		if s.CodecType == kind {
			n, _ := strconv.Atoi(s.NbReadFrames)
			return i, s.CodecName, s.Width, s.Height, n
		}
	}
	return -1, "", 0, 0, 0
}

// videoDuration is the video stream's duration.
func (p probe) videoDuration() time.Duration {
	for _, s := range p.Streams {
		if s.CodecType == "video" {
			d, _ := strconv.ParseFloat(s.Duration, 64)
			return time.Duration(d * float64(time.Second))
		}
	}
	return 0
}

// checkMonotonic fails unless every stream's PTS and DTS increase.
func (p probe) checkMonotonic(t testing.TB, name string) {
	t.Helper()
	last := map[int][2]int64{}
	for i, pk := range p.Packets {
		if l, ok := last[pk.StreamIndex]; ok && (pk.PTS <= l[0] || pk.DTS <= l[1]) {
			t.Errorf("%s: packet %d of stream %d: pts %d dts %d after pts %d dts %d", name, i, pk.StreamIndex, pk.PTS, pk.DTS, l[0], l[1])
			return
		}
		last[pk.StreamIndex] = [2]int64{pk.PTS, pk.DTS}
	}
}

func mustVerify(t testing.TB, dir string) *Report {
	t.Helper()
	rep, err := Verify(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		for _, p := range rep.Problems {
			t.Errorf("verify %s: %s", dir, p)
		}
	}
	return rep
}

func fmtFrames(c *clip) string { return fmt.Sprintf("%d video, %d audio", c.videoN, c.audioN) }

// feedFrames writes frames as they are but on track tr (when not nil),
// shifted by offset, at speed times real time; it returns the media time
// after the last frame.
func feedFrames(ctx context.Context, s *pipeline.Stream, frames []*pipeline.Frame, tr *pipeline.Track, offset time.Duration, speed float64) (time.Duration, error) {
	start := time.Now()
	end := offset
	for _, f := range frames {
		if f.Track.Kind() != pipeline.Video {
			continue
		}
		if wait := time.Duration(float64(f.PTS)/speed) - time.Since(start); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return end, ctx.Err()
			}
		}
		out := *f
		if tr != nil {
			out.Track = tr
		}
		out.PTS, out.DTS = offset+f.PTS, offset+f.DTS
		s.Write(&out)
		end = out.PTS + videoFrame
	}
	return end, nil
}

// waitFor polls cond until it holds or the test's patience runs out, while
// keep (if not nil) keeps streams fed.
func waitFor(t *testing.T, what string, cond func() bool, keep func()) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		if keep != nil {
			keep()
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
}
