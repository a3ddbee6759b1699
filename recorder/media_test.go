package recorder

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"diemcau/internal/testclip"
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

// makeClip encodes seconds of an H.264 test pattern of the given size;
// audio is "", "aac", "pcmu" or "opus".
func makeClip(t testing.TB, size string, seconds int, audio string) *clip {
	return makeClipCodec(t, pipeline.H264, size, seconds, audio)
}

// makeClipCodec is makeClip with H.264 or H.265 video: 25 fps, a keyframe
// every second with its parameter sets, no B-frames, the encoder's fastest
// preset at its default quality. The encoding is shared by the tests of
// this binary (testclip.Load); the frames are the test's own.
func makeClipCodec(t testing.TB, video pipeline.Codec, size string, seconds int, audio string) *clip {
	t.Helper()
	needFFmpeg(t)
	w, h, _ := strings.Cut(size, "x")
	spec := testclip.Spec{FPS: 25, Seconds: seconds, GOP: 25, HEVC: video == pipeline.H265, Preset: "ultrafast"}
	spec.Width, _ = strconv.Atoi(w)
	spec.Height, _ = strconv.Atoi(h)
	switch audio {
	case "aac":
		spec.Audio = testclip.AAC
	case "pcmu":
		spec.Audio = testclip.PCMU
	case "opus":
		spec.Audio = testclip.Opus
	}
	tc := testclip.Load(t, spec)
	c := &clip{duration: time.Duration(seconds) * time.Second}
	c.video = &pipeline.Track{Codec: video, FPS: 25, VPS: tc.VPS, SPS: tc.SPS, PPS: tc.PPS}
	for i, au := range tc.AUs {
		ts := time.Duration(i) * videoFrame
		c.frames = append(c.frames, &pipeline.Frame{Track: c.video, PTS: ts, DTS: ts, Key: tc.Keys[i], NALUs: au})
	}
	c.videoN = len(tc.AUs)
	if audio != "" {
		c.addAudio(t, tc)
	}
	slices.SortStableFunc(c.frames, func(a, b *pipeline.Frame) int {
		if a.PTS != b.PTS {
			return int(a.PTS - b.PTS)
		}
		return int(a.Track.Kind()) - int(b.Track.Kind())
	})
	return c
}

// addAudio adds the clip's audio packets as frames; the clip loops, so its
// audio must end with its video: a packet that would run past is left out.
func (c *clip) addAudio(t testing.TB, tc *testclip.Clip) {
	c.audio = &pipeline.Track{SampleRate: tc.SampleRate, Channels: tc.Channels}
	samples := 0 // a packet's duration, in samples
	switch tc.Spec.Audio {
	case testclip.AAC:
		c.audio.Codec, samples = pipeline.AAC, 1024
		cb, err := tc.AAC.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		c.audio.Config = cb
	case testclip.PCMU:
		c.audio.Codec, samples = pipeline.PCMU, 160
	case testclip.Opus:
		c.audio.Codec, samples = pipeline.Opus, 960
	}
	step := time.Duration(samples) * time.Second / time.Duration(tc.SampleRate)
	for i, pk := range tc.Packets {
		ts := time.Duration(i) * step
		if ts+step > c.duration {
			break
		}
		c.frames = append(c.frames, &pipeline.Frame{Track: c.audio, PTS: ts, DTS: ts, Payload: pk})
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
