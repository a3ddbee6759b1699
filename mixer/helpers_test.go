package mixer

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
	"go.uber.org/goleak"

	"diemcau/ingest/sim"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
	"diemcau/pipeline/gst"
	"diemcau/pipeline/h26x"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func needTools(t *testing.T, elements ...string) {
	t.Helper()
	for _, e := range elements {
		if !gst.HasElement(e) {
			t.Skipf("GStreamer element %s is not installed", e)
		}
	}
	for _, tool := range []string{"ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

// camera replays an encoded loop into a Stream in real time, like an
// ingest source: frames on the camera's own timeline, one Stream for good.
// Kill stops its frames (the stream stays, as when a camera drops off).
type camera struct {
	loop   atomic.Pointer[gst.Loop]
	stream *pipeline.Stream
	dead   atomic.Bool
}

func loopTracks(l *gst.Loop) []*pipeline.Track {
	tracks := []*pipeline.Track{l.Video}
	if l.Audio != nil {
		tracks = append(tracks, l.Audio)
	}
	return tracks
}

func newCamera(name string, l *gst.Loop) *camera {
	c := &camera{stream: pipeline.NewStream(name, loopTracks(l)...)}
	c.loop.Store(l)
	return c
}

// switchTo makes the camera send another loop (another size or codec), as
// a camera reconfigured or replaced mid-session; its timeline goes on.
func (c *camera) switchTo(l *gst.Loop) { c.loop.Store(l) }

func (c *camera) run(ctx context.Context) {
	start := time.Now()
	var vi, ai int64
	l := c.loop.Load()
	var base time.Duration // camera time at which l started
	for ctx.Err() == nil {
		now := time.Since(start)
		if next := c.loop.Load(); next != l {
			base, l, vi, ai = now, next, 0, 0
			c.stream.SetTracks(loopTracks(l))
		}
		now -= base
		for l.FramePTS(vi) <= now {
			f := l.VideoFrames[vi%int64(len(l.VideoFrames))]
			if !c.dead.Load() {
				pts := base + l.FramePTS(vi)
				c.stream.Write(&pipeline.Frame{Track: l.Video, PTS: pts, DTS: pts, Wall: time.Now(), Key: f.Key, NALUs: f.NALUs})
			}
			vi++
		}
		for l.Audio != nil && l.AudioPTS(ai) <= now {
			f := l.AudioFrames[ai%int64(len(l.AudioFrames))]
			if !c.dead.Load() {
				pts := base + l.AudioPTS(ai)
				c.stream.Write(&pipeline.Frame{Track: l.Audio, PTS: pts, DTS: pts, Wall: time.Now(), Key: true, Payload: f.Payload})
			}
			ai++
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// testPatterns give each test camera a solid colour, so a tile's pixels
// tell whose picture it shows.
var testPatterns = []struct {
	pattern string
	rgb     [3]int
}{{"red", [3]int{255, 0, 0}}, {"green", [3]int{0, 255, 0}}, {"white", [3]int{255, 255, 255}}, {"blue", [3]int{0, 0, 255}}}

// testTones are the cameras' audio tones, apart enough for Goertzel over
// 100 ms windows.
var testTones = []float64{500, 800, 1100, 1400}

func encodeLoops(t *testing.T, n int) []*gst.Loop {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var loops []*gst.Loop
	for i := range n {
		l, err := gst.EncodeLoop(ctx, gst.LoopConfig{
			TestPicture: gst.TestPicture{Width: 320, Height: 180, FPS: 30, Pattern: testPatterns[i].pattern},
			BitrateKbps: 200, Audio: gst.AudioOpus, AudioFreq: testTones[i],
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		loops = append(loops, l)
	}
	return loops
}

// collector keeps every frame a reader of a stream gets.
type collector struct {
	mu     sync.Mutex
	frames []*pipeline.Frame
}

func collect(ctx context.Context, wg *sync.WaitGroup, s *pipeline.Stream) *collector {
	c := &collector{}
	r := s.NewReader(pipeline.ReaderConfig{Name: "test", Queue: 4096})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer r.Close()
		for {
			f, err := r.Read(ctx)
			if err != nil {
				return
			}
			c.mu.Lock()
			c.frames = append(c.frames, f)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) snapshot(k pipeline.Kind) []*pipeline.Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*pipeline.Frame
	for _, f := range c.frames {
		if f.Track.Kind() == k {
			out = append(out, f)
		}
	}
	return out
}

// picture decodes the last frame of video with ffmpeg (from the keyframe
// before it) and returns its RGB pixels.
func picture(t *testing.T, video []*pipeline.Frame, w, h int) []byte {
	t.Helper()
	if len(video) == 0 {
		t.Fatal("no picture to decode")
	}
	pics := pictures(t, video, video[len(video)-1].PTS, w, h)
	return pics[len(pics)-1]
}

// pictures decodes the composite from the last keyframe at or before from
// to its end, and returns the RGB pixels of every picture from from on
// (those between the keyframe and from are decoded, not returned: they can
// be the composite's first, before any tile had a picture).
func pictures(t *testing.T, video []*pipeline.Frame, from time.Duration, w, h int) [][]byte {
	t.Helper()
	start := -1
	for i, f := range video {
		if f.Key && (start < 0 || f.PTS <= from) {
			start = i
		}
	}
	if start < 0 {
		t.Fatal("no keyframe to decode from")
	}
	var es []byte
	for _, f := range video[start:] {
		es = h26x.AppendAnnexB(es, f)
	}
	in := filepath.Join(t.TempDir(), "in.h264")
	if err := os.WriteFile(in, es, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "h264", "-i", in, "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	size := w * h * 3
	if len(out) < size || len(out)%size != 0 {
		t.Fatalf("ffmpeg gave %d bytes, not whole %dx%d pictures", len(out), w, h)
	}
	var pics [][]byte
	for o, i := 0, start; o < len(out); o, i = o+size, i+1 {
		// One picture per frame in order: the composite has no B-frames.
		if i >= len(video) || video[i].PTS >= from {
			pics = append(pics, out[o:o+size])
		}
	}
	return pics
}

// meanRGB is the mean colour of a 6x6 block at (x, y).
func meanRGB(pix []byte, w, x, y int) [3]int {
	var sum [3]int
	for dy := range 6 {
		for dx := range 6 {
			o := ((y+dy)*w + x + dx) * 3
			for c := range 3 {
				sum[c] += int(pix[o+c])
			}
		}
	}
	return [3]int{sum[0] / 36, sum[1] / 36, sum[2] / 36}
}

func colourDistance(a, b [3]int) float64 {
	var d float64
	for c := range 3 {
		d += float64((a[c] - b[c]) * (a[c] - b[c]))
	}
	return math.Sqrt(d)
}

func slateRGB() [3]int {
	c := gst.DefaultSlateColor
	return [3]int{int(c >> 16 & 0xff), int(c >> 8 & 0xff), int(c & 0xff)}
}

// tileProbe is a point in a tile's upper right part: clear of the label
// (bottom left), the slate's text (centre) and the clock (picture's top
// right corner, inside tile 1's top edge only).
func tileProbe(r Rect) (int, int) { return r.X + r.W*3/4, r.Y + r.H*2/5 }

// decodeOpus decodes Opus frames with ffmpeg (through an Ogg file) into
// mono 48 kHz samples.
func decodeOpus(t *testing.T, frames []*pipeline.Frame) []float64 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mix.ogg")
	w, err := oggwriter.New(path, 48000, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		p := &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(f.PTS * 48000 / time.Second)}, Payload: f.Payload}
		if err := w.WriteRTP(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(frames) == 0 {
		t.Fatal("no audio frames were collected from the mix")
	}
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", path, "-ac", "1", "-ar", "48000", "-f", "s16le", "-")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg decoding %d Opus frames: %v: %s", len(frames), err, stderr.String())
	}
	s := make([]float64, len(out)/2)
	for i := range s {
		s[i] = float64(int16(uint16(out[2*i])|uint16(out[2*i+1])<<8)) / 32768
	}
	return s
}

// goertzel is the power of one frequency in samples (relative to the
// samples' total power, so it reads as a fraction).
func goertzel(s []float64, rate, freq float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/rate)
	var q1, q2, total float64
	for _, x := range s {
		q0 := x + k*q1 - q2
		q2, q1 = q1, q0
		total += x * x
	}
	if total == 0 {
		return 0
	}
	p := q1*q1 + q2*q2 - k*q1*q2
	return p / (total * float64(len(s)) / 2)
}

func fmtRGB(c [3]int) string { return fmt.Sprintf("rgb(%d,%d,%d)", c[0], c[1], c[2]) }

// simPoint is one of the server's own sim:// sources in a test mix: its
// tone comes from its name.
type simPoint struct {
	name  string
	audio bool
}

// startSims runs a sim:// source (320×180 at 30 fps) for each point until
// the test ends.
func startSims(t *testing.T, points ...simPoint) []*sim.Source {
	t.Helper()
	var srcs []*sim.Source
	for _, p := range points {
		s, err := sim.New(sim.Config{ID: p.name, URL: "sim://" + p.name, Name: p.name,
			Width: 320, Height: 180, FPS: 30, BitrateKbps: 300, Audio: p.audio}, nil)
		if err != nil {
			t.Fatal(err)
		}
		testkit.Start(t, "sim "+p.name, s.Run)
		srcs = append(srcs, s)
	}
	return srcs
}
