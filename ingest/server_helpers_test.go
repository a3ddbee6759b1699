package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
	"go.uber.org/goleak"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// checkLeaks registers, first, a cleanup that runs last: after the server
// and sources started by the test have stopped, no goroutine may remain.
func checkLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// writerFunc turns a function into an io.Writer (a child's stderr, a log).
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

type testServer struct {
	*Server
	url string // rtsp://127.0.0.1:PORT
	log *slog.Logger
}

// startServer runs a server on a loopback port until the test ends. Its
// readers need no login: the tests that use it are about media, and
// server_auth_test.go covers logins.
func startServer(t *testing.T, log *slog.Logger) *testServer {
	t.Helper()
	return startServerWith(t, log, ServerConfig{Listen: "127.0.0.1:0", AnonymousRead: true})
}

// startServerWith is startServer with a config of the test's own.
func startServerWith(t *testing.T, log *slog.Logger, cfg ServerConfig) *testServer {
	t.Helper()
	srv, err := NewServer(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "server", srv.Run).WaitReady(srv.Listening(), 10*time.Second)
	return &testServer{Server: srv, url: "rtsp://" + srv.Addr().String(), log: log}
}

// feedClip writes a clip's frames to stream in real time, looping, until
// ctx ends. It returns when the writer goroutine has stopped.
func feedClip(ctx context.Context, t *testing.T, stream *pipeline.Stream, clip *testClip) (stop func()) {
	t.Helper()
	sps, pps := findParams(clip.aus[0])
	video, err := h264Track(sps, pps)
	if err != nil {
		t.Fatal(err)
	}
	tracks := []*pipeline.Track{video}
	var audio *pipeline.Track
	if len(clip.aac) > 0 {
		audio, _, err = aacTrack(clip.aacConf)
		if err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, audio)
	}
	stream.SetTracks(tracks)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		frameDur := time.Second / time.Duration(clip.fps)
		var aacDur time.Duration
		if audio != nil {
			aacDur = 1024 * time.Second / time.Duration(clip.aacConf.SampleRate)
		}
		var vi, ai int
		for loop := time.Duration(0); ; loop += time.Duration(len(clip.aus)) * frameDur {
			for vi = 0; vi < len(clip.aus); vi++ {
				vpts := loop + time.Duration(clip.pts[vi])*time.Second/90000
				for audio != nil && loop+time.Duration(ai)*aacDur <= vpts && ai < len(clip.aac) {
					stream.Write(&pipeline.Frame{Track: audio, PTS: loop + time.Duration(ai)*aacDur, Wall: time.Now(), Payload: clip.aac[ai]})
					ai++
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(start.Add(vpts))):
				}
				stream.Write(&pipeline.Frame{
					Track: video, PTS: vpts, DTS: vpts, Wall: time.Now(),
					Key: isH264IDR(clip.aus[vi]), NALUs: clip.aus[vi],
				})
			}
			ai = 0
		}
	}()
	return func() { cancel(); <-done }
}

func findParams(au [][]byte) (sps, pps []byte) {
	for _, n := range au {
		switch n[0] & 0x1f {
		case 7:
			sps = n
		case 8:
			pps = n
		}
	}
	return sps, pps
}

func isH264IDR(au [][]byte) bool {
	for _, n := range au {
		if n[0]&0x1f == 5 {
			return true
		}
	}
	return false
}

func auEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

type probedStream struct {
	CodecType string `json:"codec_type"`
	CodecName string `json:"codec_name"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
}

func ffprobe(ctx context.Context, t *testing.T, url, transport string) []probedStream {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-rtsp_transport", transport,
		"-show_entries", "stream=codec_type,codec_name,width,height", "-of", "json", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v: %s", url, err, stderr.String())
	}
	var res struct {
		Streams []probedStream `json:"streams"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe output %q: %v", out, err)
	}
	return res.Streams
}

func assertProbe(t *testing.T, got, want []probedStream) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("ffprobe found %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("stream %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func describe(t *testing.T, url string) error {
	t.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := &gortsplib.Client{}
	if err := c.Start(u.Scheme, u.Host); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _, err = c.Describe(u)
	return err
}

func describeDesc(t *testing.T, u *base.URL) (*description.Session, *base.Response, error) {
	t.Helper()
	c := &gortsplib.Client{}
	if err := c.Start(u.Scheme, u.Host); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Describe(u)
}

// setupReader DESCRIBEs and SETUPs every media of raw over tr: the one
// way these tests start an RTSP reader. The client closes when the test
// ends; an error of DESCRIBE or SETUP (a refusal) is returned.
func setupReader(t *testing.T, raw string, tr gortsplib.Transport) (*gortsplib.Client, *description.Session, error) {
	t.Helper()
	u, err := base.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := &gortsplib.Client{Transport: &tr}
	if err := c.Start(u.Scheme, u.Host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	desc, _, err := c.Describe(u)
	if err != nil {
		return c, nil, err
	}
	return c, desc, c.SetupAll(desc.BaseURL, desc.Medias)
}

// playClient DESCRIBEs, SETUPs and PLAYs url over TCP, counting packets.
func playClient(t *testing.T, url string) (c *gortsplib.Client, packets func() int) {
	t.Helper()
	c, _, err := setupReader(t, url, gortsplib.TransportTCP)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	c.OnPacketRTPAny(func(*description.Media, format.Format, *rtp.Packet) {
		mu.Lock()
		n++
		mu.Unlock()
	})
	if _, err := c.Play(nil); err != nil {
		t.Fatal(err)
	}
	return c, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// logBuffer is a logger whose text the test reads back.
type logBuffer struct{ testkit.LogBuffer }

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&l.LogBuffer, nil))
}

// serveClip serves clip at path on srv, fed in real time until the test
// ends, and returns its stream.
func serveClip(ctx context.Context, t *testing.T, srv *testServer, path string, clip *testClip) *pipeline.Stream {
	t.Helper()
	s := pipeline.NewStream(path)
	if err := srv.Serve(path, s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(feedClip(ctx, t, s, clip))
	return s
}

// wantConfigErr checks that a config's error names field (as "field: …"),
// or that there is none where field is empty.
func wantConfigErr(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Errorf("unexpected error %v", err)
		}
		return
	}
	if err == nil || !strings.HasPrefix(err.Error(), field+":") {
		t.Errorf("error %v, want one naming %s", err, field)
	}
}
