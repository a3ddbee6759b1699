package ingest

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"go.uber.org/goleak"

	"diemcau/pipeline"

	"diemcau/internal/proctest"
	"diemcau/internal/testkit"
)

// runSource starts a pull source and stops it (and checks it stopped) at
// the end of the test.
func runSource(t *testing.T, cfg PullConfig) *PullSource {
	t.Helper()
	src, err := NewPullSource(cfg, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "source", src.Run)
	return src
}

// verifyNoLeaks checks, after every cleanup of the test has run, that no
// goroutine started during the test is left.
func verifyNoLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func TestPullSource(t *testing.T) {
	verifyNoLeaks(t)
	clip := loadClip(t, clipSpec{audio: true})
	cases := []struct {
		name      string
		transport string
		opts      cameraOpts
		want      string // transport in the status
	}{
		{name: "tcp digest auth", transport: TransportTCP, opts: cameraOpts{user: "admin", pass: "s3cret!", audio: true}, want: "tcp"},
		{name: "udp basic auth", transport: TransportUDP, opts: cameraOpts{user: "admin", pass: "s3cret!", basicOnly: true, audio: true}, want: "udp"},
		{name: "auto params only in sdp", transport: TransportAuto, opts: cameraOpts{paramsInSDP: true}, want: "udp"},
		{name: "auto falls back to tcp", transport: TransportAuto, opts: cameraOpts{tcpOnly: true}, want: "tcp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cam := startTestCamera(t, clip, tc.opts)
			src := runSource(t, PullConfig{ID: "cam-1", Name: "Cam 1", URL: cam.URL(tc.opts.user, tc.opts.pass), Transport: tc.transport})
			r := src.Stream().NewReader(pipeline.ReaderConfig{Name: "test", FromKeyframe: true})
			defer r.Close()

			testkit.Eventually(t, 20*time.Second, "online with 50 frames", func() bool {
				st := src.Status()
				return st.State == StateOnline && st.Frames >= 50
			})
			st := src.Status()
			if st.Video == nil || st.Video.Codec != "h264" || st.Video.Width != 320 || st.Video.Height != 180 || st.Video.Profile == "" {
				t.Errorf("video = %+v, want h264 320x180 with a profile", st.Video)
			}
			if tc.opts.audio {
				if st.Audio == nil || st.Audio.Codec != "aac" || st.Audio.SampleRate != 48000 || st.Audio.Channels != 1 {
					t.Errorf("audio = %+v, want aac 48000 Hz mono", st.Audio)
				}
			} else if st.Audio != nil {
				t.Errorf("audio = %+v, want none", st.Audio)
			}
			if st.Transport != tc.want {
				t.Errorf("transport = %q, want %q", st.Transport, tc.want)
			}
			if st.ID != "cam-1" || st.Name != "Cam 1" || st.LastFrameAt == nil || st.Error != "" || st.Reconnects != 0 {
				t.Errorf("status = %+v", st)
			}
			if tc.opts.pass != "" && strings.Contains(st.URL, tc.opts.pass) {
				t.Errorf("status URL %q shows the password", st.URL)
			}

			// A reader gets decodable video: a keyframe with its parameter
			// sets first, timestamps that grow.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var first *pipeline.Frame
			for first == nil {
				f, err := r.Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if f.Track.Kind() == pipeline.Video {
					first = f
				}
			}
			if !first.Key || len(first.NALUs) < 3 || first.NALUs[0][0]&0x1F != 7 {
				t.Errorf("first video frame: key=%v, %d NAL units, want a keyframe led by its SPS", first.Key, len(first.NALUs))
			}
			if tr := src.Stream().Track(pipeline.Video); tr == nil || tr.Width != 320 {
				t.Errorf("stream video track = %+v", tr)
			}
		})
	}
}

// A camera that is killed goes offline; when it comes back the source is
// online again and counts a reconnection. A camera that freezes (connected,
// silent) is offline too.
func TestPullSourceReconnect(t *testing.T) {
	verifyNoLeaks(t)
	clip := loadClip(t, clipSpec{})
	for _, transport := range []string{TransportTCP, TransportUDP} {
		t.Run(transport, func(t *testing.T) {
			cam := startTestCamera(t, clip, cameraOpts{})
			src := runSource(t, PullConfig{ID: "cam", URL: cam.URL("", ""), Transport: transport})
			online := func() bool { return src.Status().State == StateOnline }
			offline := func() bool { return src.Status().State == StateOffline }

			testkit.Eventually(t, 20*time.Second, "online", online)
			changes := src.Stream().Changes()
			cam.Stop()
			testkit.Eventually(t, 20*time.Second, "offline after the camera died", offline)
			t.Logf("after kill: %q", src.Status().Error)
			// While it is away, retries do not change the state.
			time.Sleep(1500 * time.Millisecond)
			if st := src.Status(); st.State != StateOffline || !strings.Contains(st.Error, "connection refused") {
				t.Errorf("while away: %s %q, want offline, connection refused", st.State, st.Error)
			}
			cam.Restart()
			testkit.Eventually(t, 20*time.Second, "online after the camera came back", online)
			if n := src.Status().Reconnects; n != 1 {
				t.Errorf("reconnects = %d, want 1", n)
			}
			if c := src.Stream().Changes(); c != changes {
				t.Errorf("stream tracks changed %d times across a reconnect of an unchanged camera", c-changes)
			}

			frames := src.Status().Frames
			cam.Pause(true)
			testkit.Eventually(t, 20*time.Second, "offline after the camera froze", offline)
			if st := src.Status(); !strings.Contains(st.Error, "no data") {
				t.Errorf("frozen camera: error %q, want no data", st.Error)
			}
			cam.Pause(false)
			testkit.Eventually(t, 20*time.Second, "online after the camera thawed", online)
			if st := src.Status(); st.Reconnects != 2 || st.Frames <= frames {
				t.Errorf("after thaw: reconnects %d frames %d (before %d)", st.Reconnects, st.Frames, frames)
			}
		})
	}
}

// garbageServer accepts TCP connections and answers every request with
// bytes that are not RTSP.
func garbageServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(conn)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if strings.TrimSpace(line) == "" {
						io.WriteString(conn, "\x16\x03\x01 hello, this is not RTSP at all\r\n\r\n")
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

func TestPullSourceFailures(t *testing.T) {
	verifyNoLeaks(t)
	clip := loadClip(t, clipSpec{})
	good := startTestCamera(t, clip, cameraOpts{})
	locked := startTestCamera(t, clip, cameraOpts{user: "admin", pass: "right-pass"})
	mpeg4 := startTestCamera(t, clip, cameraOpts{formats: []format.Format{&format.MPEG4Video{PayloadTyp: 96}}})
	tcpOnly := startTestCamera(t, clip, cameraOpts{tcpOnly: true})
	httpSrv := httptest.NewServer(http.NotFoundHandler())
	defer httpSrv.Close()
	refusedPort := proctest.FreePort(t)
	garbage := garbageServer(t)

	// A working camera beside the broken ones keeps working.
	working := runSource(t, PullConfig{ID: "good", URL: good.URL("", ""), Transport: TransportTCP})
	testkit.Eventually(t, 20*time.Second, "the working source online", func() bool {
		st := working.Status()
		return st.State == StateOnline && st.Frames > 0
	})

	cases := []struct {
		name      string
		url       string
		wantState State
		wantMsg   string
		transport string // default tcp
	}{
		{name: "connection refused", url: "rtsp://127.0.0.1:" + strconv.Itoa(refusedPort) + "/stream", wantState: StateOffline, wantMsg: "connection refused"},
		{name: "wrong password", url: locked.URL("admin", "wrong-pass"), wantState: StateError, wantMsg: "wrong username or password"},
		{name: "no password", url: locked.URL("", ""), wantState: StateError, wantMsg: "asks for a username and password"},
		{name: "wrong path", url: strings.Replace(good.URL("", ""), "/stream", "/nope", 1), wantState: StateError, wantMsg: "no stream at this path"},
		{name: "unsupported codec", url: mpeg4.URL("", ""), wantState: StateError, wantMsg: "unsupported codec MPEG-4 Video"},
		{name: "garbage answer", url: "rtsp://" + garbage + "/stream", wantState: StateError, wantMsg: "does not answer in RTSP"},
		{name: "http server", url: "rtsp://user:hunter2@" + strings.TrimPrefix(httpSrv.URL, "http://") + "/stream", wantState: StateError, wantMsg: "does not answer in RTSP"},
		{name: "dns failure", url: "rtsp://camera.diemcau.invalid/stream", wantMsg: "DNS"},
		{name: "udp refused", url: tcpOnly.URL("", ""), transport: TransportUDP, wantState: StateError, wantMsg: "refuses this transport"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := tc.transport
			if tr == "" {
				tr = TransportTCP
			}
			src := runSource(t, PullConfig{ID: "bad", URL: tc.url, Transport: tr})
			testkit.Eventually(t, 20*time.Second, "a failure state", func() bool {
				st := src.Status()
				return st.State == StateError || st.State == StateOffline
			})
			st := src.Status()
			t.Logf("%s: %s", st.State, st.Error)
			if tc.wantState != "" && st.State != tc.wantState {
				t.Errorf("state = %s, want %s", st.State, tc.wantState)
			}
			if !strings.Contains(st.Error, tc.wantMsg) {
				t.Errorf("error = %q, want it to contain %q", st.Error, tc.wantMsg)
			}
			for _, secret := range []string{"wrong-pass", "hunter2"} {
				if strings.Contains(st.Error, secret) || strings.Contains(st.URL, secret) {
					t.Errorf("status shows a password: %+v", st)
				}
			}
		})
	}
	if st := working.Status(); st.State != StateOnline || st.Frames == 0 {
		t.Errorf("working source: %s with %d frames, want online", st.State, st.Frames)
	}
}

func TestPullConfigValidate(t *testing.T) {
	cases := []struct {
		name    string
		cfg     PullConfig
		wantErr string
	}{
		{name: "ok", cfg: PullConfig{ID: "tinh", URL: "rtsp://u:p@192.0.2.10/stream1"}},
		{name: "ok rtsps tcp", cfg: PullConfig{ID: "xa-a", URL: "rtsps://192.0.2.10/s", Transport: "tcp"}},
		{name: "bad id", cfg: PullConfig{ID: "Tinh 1", URL: "rtsp://h/s"}, wantErr: "id:"},
		{name: "no url", cfg: PullConfig{ID: "a"}, wantErr: "url: missing"},
		{name: "http url", cfg: PullConfig{ID: "a", URL: "http://192.0.2.1/video"}, wantErr: `url: not an RTSP URL: scheme "http"`},
		{name: "no host", cfg: PullConfig{ID: "a", URL: "rtsp:///s"}, wantErr: "url: no host"},
		{name: "bad transport", cfg: PullConfig{ID: "a", URL: "rtsp://h/s", Transport: "quic"}, wantErr: "transport:"},
		{name: "udp over rtsps", cfg: PullConfig{ID: "a", URL: "rtsps://h/s", Transport: "udp"}, wantErr: "transport:"},
		{name: "bad url keeps password secret", cfg: PullConfig{ID: "a", URL: "rtsp://u:se%zzcret@h/s"}, wantErr: "url:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "se%zzcret") {
				t.Errorf("error shows the password: %v", err)
			}
			if _, err := NewPullSource(tc.cfg, nil); err == nil {
				t.Error("NewPullSource accepted an invalid config")
			}
		})
	}
}
