package ingest

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// runPush adds a push source to srv, re-serves it at /sources/{id} and runs
// it until the test ends.
func runPush(t *testing.T, srv *testServer, id, url string) *PushSource {
	t.Helper()
	p, err := NewPushSource(PushConfig{ID: id, Name: "Điểm cầu " + id, URL: url, AllowAnonymous: url == "push://"}, srv.log)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddPushSource(p); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve("sources/"+id, p.Stream()); err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "push source", p.Run)
	// An encoder that announces before Run has begun is refused (503).
	testkit.Eventually(t, 5*time.Second, "the push source running", func() bool {
		p.slot.mu.Lock()
		defer p.slot.mu.Unlock()
		return p.slot.running
	})
	return p
}

// ffmpegPublisher is an ffmpeg process publishing a test picture over RTSP.
type ffmpegPublisher struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

type publishSpec struct {
	transport string // tcp | udp
	audio     string // "" | opus | aac
	video     string // encoder; default libx264
}

func publish(t *testing.T, url string, spec publishSpec) *ffmpegPublisher {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	if spec.transport == "" {
		spec.transport = "tcp"
	}
	args := []string{"-hide_banner", "-loglevel", "warning", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"}
	if spec.audio != "" {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")
	}
	switch spec.video {
	case "", "libx264":
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
			"-bf", "0", "-g", "25", "-pix_fmt", "yuv420p")
	default:
		args = append(args, "-c:v", spec.video)
	}
	switch spec.audio {
	case "opus":
		args = append(args, "-c:a", "libopus", "-b:a", "32k")
	case "aac":
		args = append(args, "-c:a", "aac", "-b:a", "64k")
	}
	args = append(args, "-t", "120", "-f", "rtsp", "-rtsp_transport", spec.transport, url)
	p := &ffmpegPublisher{cmd: exec.Command("ffmpeg", args...), done: make(chan struct{})}
	p.cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stderr.Write(b)
	})
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

func (p *ffmpegPublisher) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

func (p *ffmpegPublisher) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// refused waits for ffmpeg to give up and returns what it printed.
func (p *ffmpegPublisher) refused(ctx context.Context, t *testing.T) string {
	t.Helper()
	select {
	case <-p.done:
	case <-ctx.Done():
		t.Fatalf("ffmpeg still publishing; output: %s", p.output())
	}
	if p.err == nil {
		t.Fatalf("ffmpeg exited cleanly; output: %s", p.output())
	}
	return p.output()
}

func waitOnline(ctx context.Context, t *testing.T, p *PushSource) Status {
	t.Helper()
	testkit.WaitFor(t, ctx, p.ID()+" online with video", func() bool {
		st := p.Status()
		return st.State == StateOnline && st.Video != nil && st.Video.Width > 0 && st.Frames > 0
	})
	return p.Status()
}

// TestPushFFmpeg: ffmpeg publishes, the source goes online with the right
// codecs, ffprobe reads it back from /sources/{id}, and when ffmpeg dies
// the source goes offline.
func TestPushFFmpeg(t *testing.T) {
	checkLeaks(t)
	srv := startServer(t, testkit.Logger(t))
	cases := []struct {
		name      string
		id        string
		srcURL    string
		userinfo  string
		spec      publishSpec
		wantAudio *AudioInfo
		probe     []probedStream
	}{
		{"tcp video only", "enc-tcp", "push://", "", publishSpec{transport: "tcp"}, nil,
			[]probedStream{{CodecType: "video", CodecName: "h264", Width: 320, Height: 180}}},
		{"udp with opus", "enc-udp", "push://", "", publishSpec{transport: "udp", audio: "opus"},
			&AudioInfo{Codec: "opus", SampleRate: 48000, Channels: 1},
			[]probedStream{{CodecType: "video", CodecName: "h264", Width: 320, Height: 180}, {CodecType: "audio", CodecName: "opus"}}},
		{"credentials with aac", "enc-auth", "push://enc:s3cret@", "enc:s3cret@", publishSpec{transport: "tcp", audio: "aac"},
			&AudioInfo{Codec: "aac", SampleRate: 48000, Channels: 1},
			[]probedStream{{CodecType: "video", CodecName: "h264", Width: 320, Height: 180}, {CodecType: "audio", CodecName: "aac"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			p := runPush(t, srv, tc.id, tc.srcURL)
			if st := p.Status(); st.State != StateConnecting || st.Error != waitingForEncoder {
				t.Errorf("before publishing: %s %q, want connecting %q", st.State, st.Error, waitingForEncoder)
			}
			if strings.Contains(p.Status().URL, "s3cret") {
				t.Errorf("status URL %q shows the password", p.Status().URL)
			}
			url := strings.Replace(srv.url, "rtsp://", "rtsp://"+tc.userinfo, 1) + "/ingest/" + tc.id
			pub := publish(t, url, tc.spec)
			st := waitOnline(ctx, t, p)
			if st.Video.Codec != "h264" || st.Video.Width != 320 || st.Video.Height != 180 {
				t.Errorf("video %+v, want h264 320x180", st.Video)
			}
			if st.Transport != tc.spec.transport {
				t.Errorf("transport %q, want %q", st.Transport, tc.spec.transport)
			}
			switch {
			case tc.wantAudio == nil && st.Audio != nil:
				t.Errorf("audio %+v, want none", st.Audio)
			case tc.wantAudio != nil && (st.Audio == nil || st.Audio.Codec != tc.wantAudio.Codec || st.Audio.SampleRate != tc.wantAudio.SampleRate):
				t.Errorf("audio %+v, want %+v", st.Audio, tc.wantAudio)
			}
			assertProbe(t, ffprobe(ctx, t, srv.url+"/sources/"+tc.id, "tcp"), tc.probe)
			if n := srv.Stats().Publishers; n != 1 {
				t.Errorf("publishers %d, want 1", n)
			}

			pub.kill()
			testkit.WaitFor(t, ctx, "offline after ffmpeg was killed", func() bool { return p.Status().State == StateOffline })
			if msg := p.Status().Error; !strings.Contains(msg, "encoder") {
				t.Errorf("offline reason %q does not mention the encoder", msg)
			}
		})
	}
}

// TestPushRefusals: while one encoder publishes, other publishers are
// refused with the right status, and the first one is not disturbed.
func TestPushRefusals(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	srv := startServer(t, testkit.Logger(t))
	enc1 := runPush(t, srv, "enc1", "push://")
	enc2 := runPush(t, srv, "enc2", "push://enc:right@")
	enc3 := runPush(t, srv, "enc3", "push://")
	publish(t, srv.url+"/ingest/enc1", publishSpec{})
	waitOnline(ctx, t, enc1)

	host := strings.TrimPrefix(srv.url, "rtsp://")
	cases := []struct {
		name       string
		url        string
		spec       publishSpec
		wantOutput string
		src        *PushSource // whose status should show the reason
		wantStatus string
	}{
		{"second publisher", "rtsp://" + host + "/ingest/enc1", publishSpec{}, "409", nil, ""},
		{"unknown source", "rtsp://" + host + "/ingest/nope", publishSpec{}, "404", nil, ""},
		{"not an ingest path", "rtsp://" + host + "/sources/enc1", publishSpec{}, "405", nil, ""},
		{"missing credentials", "rtsp://" + host + "/ingest/enc2", publishSpec{}, "401", nil, ""},
		{"wrong password", "rtsp://enc:wrong@" + host + "/ingest/enc2", publishSpec{}, "401", enc2, "wrong credentials"},
		{"unsupported codec", "rtsp://" + host + "/ingest/enc3", publishSpec{video: "mpeg4"}, "415", enc3, "MPEG-4 Video"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := publish(t, tc.url, tc.spec).refused(ctx, t)
			t.Logf("ffmpeg: %s", out)
			if !strings.Contains(out, tc.wantOutput) {
				t.Errorf("ffmpeg output does not show %s:\n%s", tc.wantOutput, out)
			}
			if strings.Contains(out, "right") {
				t.Errorf("the refusal shows the password:\n%s", out)
			}
			if tc.src != nil {
				st := tc.src.Status()
				if st.State != StateError || !strings.Contains(st.Error, tc.wantStatus) {
					t.Errorf("status %s %q, want error with %q", st.State, st.Error, tc.wantStatus)
				}
			}
		})
	}

	before := enc1.Status().Frames
	testkit.WaitFor(t, ctx, "first publisher still flowing", func() bool { return enc1.Status().Frames > before+10 })
	if st := enc1.Status(); st.State != StateOnline || st.Reconnects != 0 {
		t.Errorf("first publisher: %s, %d reconnects", st.State, st.Reconnects)
	}

	// The right password is accepted after the refusals.
	publish(t, "rtsp://enc:right@"+host+"/ingest/enc2", publishSpec{})
	waitOnline(ctx, t, enc2)
}

// TestPushReconnect: a publisher killed and started again brings the
// source back online, counts a reconnect, continues the stream's timeline
// and keeps the RTSP reader of /sources/{id}.
func TestPushReconnect(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv := startServer(t, testkit.Logger(t))
	p := runPush(t, srv, "enc1", "push://")

	// Watch the stream's video timeline across the reconnect.
	r := p.Stream().NewReader(pipeline.ReaderConfig{Name: "test"})
	defer r.Close()
	var mu sync.Mutex
	var backwards []string
	var lastPTS time.Duration
	var videoFrames int
	readCtx, stopRead := context.WithCancel(ctx)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			f, err := r.Read(readCtx)
			if err != nil {
				return
			}
			if f.Track.Kind() != pipeline.Video {
				continue
			}
			mu.Lock()
			if videoFrames > 0 && f.PTS <= lastPTS {
				backwards = append(backwards, fmt.Sprintf("%v after %v", f.PTS, lastPTS))
			}
			lastPTS = f.PTS
			videoFrames++
			mu.Unlock()
		}
	}()
	defer func() { stopRead(); <-readDone }()

	first := publish(t, srv.url+"/ingest/enc1", publishSpec{})
	waitOnline(ctx, t, p)

	// A reader of the re-served feed.
	c, _, err := setupReader(t, srv.url+"/sources/enc1", gortsplib.TransportTCP)
	if err != nil {
		t.Fatal(err)
	}
	var packets int
	c.OnPacketRTPAny(func(*description.Media, format.Format, *rtp.Packet) {
		mu.Lock()
		packets++
		mu.Unlock()
	})
	if _, err := c.Play(nil); err != nil {
		t.Fatal(err)
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return packets }
	testkit.WaitFor(t, ctx, "packets to the RTSP reader", func() bool { return count() > 0 })

	first.kill()
	testkit.WaitFor(t, ctx, "offline", func() bool { return p.Status().State == StateOffline })
	if n := srv.Stats().Publishers; n != 0 {
		t.Errorf("publishers %d after the encoder left, want 0", n)
	}
	publish(t, srv.url+"/ingest/enc1", publishSpec{})
	waitOnline(ctx, t, p)
	if st := p.Status(); st.Reconnects != 1 {
		t.Errorf("reconnects %d, want 1", st.Reconnects)
	}
	before := count()
	testkit.WaitFor(t, ctx, "packets to the RTSP reader after the reconnect", func() bool { return count() > before+50 })

	mu.Lock()
	defer mu.Unlock()
	if len(backwards) > 0 {
		t.Errorf("video PTS went back %d times, first %s", len(backwards), backwards[0])
	}
}

// TestPushPublisherGone: a publisher that tears down, or stops sending
// while keeping its connection, leaves the source offline with the reason.
func TestPushPublisherGone(t *testing.T) {
	checkLeaks(t)
	clip := loadClip(t, clipSpec{})
	srv := startServer(t, testkit.Logger(t))
	cases := []struct {
		name   string
		end    func(c *gortsplib.Client)
		reason string
	}{
		{"teardown", func(c *gortsplib.Client) { c.Close() }, "TEARDOWN"},
		{"silent encoder", func(*gortsplib.Client) {}, "no media from encoder"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			id := fmt.Sprintf("gone%d", i)
			p := runPush(t, srv, id, "push://")
			sps, pps := findParams(clip.aus[0])
			track, err := h264Track(sps, pps)
			if err != nil {
				t.Fatal(err)
			}
			pk, err := NewPacketizer(track)
			if err != nil {
				t.Fatal(err)
			}
			c := &gortsplib.Client{}
			if err := c.StartRecording(srv.url+"/ingest/"+id, &description.Session{Medias: []*description.Media{pk.Media()}}); err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for n := 0; p.Status().Frames < 5; n++ {
				if ctx.Err() != nil {
					t.Fatal("no frames reached the source")
				}
				au := clip.aus[n%len(clip.aus)]
				pkts, err := pk.Packetize(&pipeline.Frame{Track: track, PTS: time.Duration(n) * 40 * time.Millisecond, NALUs: au, Key: isH264IDR(au)})
				if err != nil {
					t.Fatal(err)
				}
				for _, pkt := range pkts {
					if err := c.WritePacketRTP(pk.Media(), pkt); err != nil {
						t.Fatal(err)
					}
				}
				time.Sleep(40 * time.Millisecond)
			}
			if st := p.Status(); st.State != StateOnline {
				t.Fatalf("state %s while publishing", st.State)
			}
			tc.end(c)
			testkit.WaitFor(t, ctx, "offline", func() bool { return p.Status().State == StateOffline })
			if msg := p.Status().Error; !strings.Contains(msg, tc.reason) {
				t.Errorf("reason %q, want %q", msg, tc.reason)
			}
		})
	}
}

func TestPushConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		cfg   PushConfig
		field string // "" when valid
	}{
		{"open without allow_anonymous", PushConfig{ID: "xa-a", URL: "push://"}, "url"},
		{"open with allow_anonymous", PushConfig{ID: "xa-a", URL: "push://", AllowAnonymous: true}, ""},
		{"credentials", PushConfig{ID: "xa-a", URL: "push://enc:pw@"}, ""},
		{"user only", PushConfig{ID: "xa-a", URL: "push://enc@"}, "url"},
		{"empty password", PushConfig{ID: "xa-a", URL: "push://enc:@", AllowAnonymous: true}, "url"},
		{"bad id", PushConfig{ID: "Xa A", URL: "push://"}, "id"},
		{"empty id", PushConfig{URL: "push://"}, "id"},
		{"rtsp url", PushConfig{ID: "a", URL: "rtsp://cam/"}, "url"},
		{"host given", PushConfig{ID: "a", URL: "push://enc:pw@host:8554"}, "url"},
		{"password without user", PushConfig{ID: "a", URL: "push://:pw@"}, "url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			wantConfigErr(t, err, tc.field)
			if tc.field == "" {
				return
			}
			if err != nil && strings.Contains(err.Error(), "pw") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}
