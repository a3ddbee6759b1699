package srt

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"diemcau/ingest"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// rig is an SRT listener with its sources, on a loopback port of its own.
type rig struct {
	srv     *Server
	sources map[string]ingest.Source
	logs    *testkit.LogBuffer
	addr    string
}

// startRig runs a listener with srt:// sources made from urls (id → url)
// and any other sources given; everything stops when the test ends.
func startRig(t *testing.T, latency time.Duration, urls map[string]string, others ...ingest.Source) *rig {
	t.Helper()
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := &rig{sources: map[string]ingest.Source{}, logs: logs}
	for _, o := range others {
		r.sources[o.ID()] = o
	}
	srv, err := New(Config{Listen: "127.0.0.1:0", Latency: latency, RefusalLogPeriod: time.Minute}, log, func(id string) (ingest.Source, bool) {
		s, ok := r.sources[id]
		return s, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	r.srv = srv
	for id, u := range urls {
		src, err := srv.NewSourceFactory()(ingest.SourceConfig{ID: id, URL: u, AllowAnonymous: !strings.Contains(u, "@")}, log)
		if err != nil {
			t.Fatal(err)
		}
		r.sources[id] = src
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})
	for id, s := range r.sources {
		// A source's own end is not what these tests check: what reached
		// its stream is.
		testkit.Start(t, "source "+id, func(ctx context.Context) error { _ = s.Run(ctx); return nil })
	}
	testkit.Start(t, "srt server", srv.Run).WaitReady(srv.Listening(), 5*time.Second)
	r.addr = srv.Addr().String()
	return r
}

// counter counts what reaches a source's stream.
type counter struct {
	mu           sync.Mutex
	video, audio int
	keys         int
	firstVideo   time.Duration
	lastVideo    time.Duration
	backwards    int
	lastDTS      time.Duration
	maxGap       time.Duration   // largest step between consecutive video PTS
	pts          []time.Duration // every video frame's, relative to the first
	tracks       []*pipeline.Track
}

func countFrames(t *testing.T, s *pipeline.Stream) *counter {
	t.Helper()
	c := &counter{}
	rd := s.NewReader(pipeline.ReaderConfig{Name: "test", Queue: 4096})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			f, err := rd.Read(ctx)
			if err != nil || f == nil {
				return
			}
			c.mu.Lock()
			switch f.Track.Kind() {
			case pipeline.Video:
				if c.video == 0 {
					c.firstVideo = f.PTS
				}
				c.pts = append(c.pts, f.PTS-c.firstVideo)
				if c.video > 0 {
					if f.DTS < c.lastDTS {
						c.backwards++
					}
					c.maxGap = max(c.maxGap, f.PTS-c.lastVideo)
				}
				c.video++
				c.lastVideo, c.lastDTS = f.PTS, f.DTS
				if f.Key {
					c.keys++
				}
			case pipeline.Audio:
				c.audio++
			}
			c.tracks = s.Tracks()
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		rd.Close()
		<-done
	})
	return c
}

// checkVideo fails the test unless the video frames came in order, with
// no hole, and at least want-tail of them arrived. An encoder that hangs up
// takes the last latency's worth of its stream with it (SRT drops what the
// receiver still holds for the latency when the peer shuts down), so the
// tail is allowed that much; a frame lost before the end is a hole.
func (c *counter) checkVideo(t *testing.T, want, fps int, latency time.Duration) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	frame := time.Second / time.Duration(fps)
	tail := int(latency/frame) + 2
	if c.video < want-tail || c.video > want {
		t.Errorf("video frames: got %d, sent %d (at most %d may be lost at the hang-up)", c.video, want, tail)
	}
	if c.maxGap > frame+time.Millisecond || c.lastVideo-c.firstVideo != time.Duration(c.video-1)*frame {
		t.Errorf("video has holes: largest step %s, span %s for %d frames of %s", c.maxGap, c.lastVideo-c.firstVideo, c.video, frame)
	}
	if c.backwards != 0 {
		t.Errorf("%d video DTS went back", c.backwards)
	}
}

// missingBefore counts the frames of the first window of the stream (fps
// frames a second from the first frame) that never arrived: the measure
// of loss while the encoder was still sending, free of what its hang-up
// takes.
func (c *counter) missingBefore(window time.Duration, fps int) (missing, want int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	frame := time.Second / time.Duration(fps)
	want = int(window / frame)
	got := map[int]bool{}
	for _, p := range c.pts {
		if i := int((p + frame/2) / frame); i < want {
			got[i] = true
		}
	}
	return want - len(got), want
}

func (c *counter) counts() (video, audio int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.video, c.audio
}

// needFFmpeg skips a test on a machine without ffmpeg built with libsrt.
func needFFmpeg(t *testing.T) {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-protocols").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "srt") {
		t.Skip("ffmpeg with libsrt not installed")
	}
}

// publish runs ffmpeg sending seconds of 320x180 H.264 at fps with AAC
// (48 kHz) as MPEG-TS over SRT; it returns when ffmpeg has ended.
type publishOpts struct {
	addr, streamID, passphrase string
	seconds, fps               int
	latency                    time.Duration
	videoCodec                 string // default libx264
	audioCodec                 string // default aac; "none" for no audio
}

func ffmpegArgs(o publishOpts) []string {
	q := fmt.Sprintf("streamid=%s", o.streamID)
	if o.passphrase != "" {
		q += "&passphrase=" + o.passphrase + "&pbkeylen=16"
	}
	if o.latency > 0 {
		q += fmt.Sprintf("&latency=%d", o.latency.Microseconds())
	}
	vc := o.videoCodec
	if vc == "" {
		vc = "libx264"
	}
	args := []string{"-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=320x180:rate=%d", o.fps),
		"-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
		"-t", fmt.Sprint(o.seconds),
		"-c:v", vc, "-g", fmt.Sprint(o.fps), "-pix_fmt", "yuv420p"}
	switch vc {
	case "libx264":
		args = append(args, "-preset", "ultrafast", "-tune", "zerolatency")
	case "libx265":
		args = append(args, "-preset", "ultrafast", "-tune", "zerolatency", "-x265-params", "log-level=error")
	}
	switch o.audioCodec {
	case "none":
		args = append(args, "-an")
	case "":
		args = append(args, "-c:a", "aac", "-b:a", "64k")
	default:
		args = append(args, "-c:a", o.audioCodec)
	}
	return append(args, "-f", "mpegts", "srt://"+o.addr+"?"+q)
}

func publish(t *testing.T, o publishOpts) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(o.seconds+20)*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", ffmpegArgs(o)...).CombinedOutput()
	return string(out), err
}
