package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"diemcau/internal/proctest"
	"diemcau/internal/rtsptest"
	"diemcau/internal/testkit"
)

// clockCamera is an RTSP camera (gortsplib) whose clocks are off: its RTP
// timestamps advance rate times as fast as real time, and its wall clock,
// as its RTCP sender reports tell it, is offset from ours. It sends a
// sender report every half second, as eager cameras do.
type clockCamera struct {
	port int
	stop chan struct{}
	done chan struct{}
}

// clockSkew is how a test sender's clocks are off.
type clockSkew struct {
	rate   float64       // media clock speed against real time
	offset time.Duration // wall clock minus real time
	// noSenderReports: the sender sends no RTCP sender report at all.
	noSenderReports bool
}

func startClockCamera(t *testing.T, clip *testClip, rate float64, offset time.Duration) *clockCamera {
	t.Helper()
	return startSkewedCamera(t, clip, clockSkew{rate: rate, offset: offset})
}

func startSkewedCamera(t *testing.T, clip *testClip, skew clockSkew) *clockCamera {
	t.Helper()
	c := &clockCamera{port: proctest.FreePort(t), stop: make(chan struct{}), done: make(chan struct{})}
	cam, err := rtsptest.Start(&gortsplib.Server{RTSPAddress: "127.0.0.1:" + strconv.Itoa(c.port),
		DisableRTCPSenderReports: skew.noSenderReports}, clockClipDesc(clip))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		sendSkewedClip(cam.Stream, cam.Stream.Desc.Medias[0], clip, skew, c.stop)
	}()
	t.Cleanup(func() {
		close(c.stop)
		<-c.done
		cam.Close()
	})
	return c
}

func (c *clockCamera) url() string { return fmt.Sprintf("rtsp://127.0.0.1:%d/stream", c.port) }

// clockClipDesc is the H.264 media of clip, parameter sets in the SDP.
func clockClipDesc(clip *testClip) *description.Session {
	_, _, sps, pps := clip.withoutParams()
	return &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo,
		Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps}}}}}
}

// clockWriter is where a skewed clip goes: a camera's stream, or a client
// publishing to the server.
type clockWriter interface {
	WritePacketRTPWithNTP(*description.Media, *rtp.Packet, time.Time) error
	WritePacketRTCP(*description.Media, rtcp.Packet) error
}

// sendSkewedClip writes clip to w in real time, looping, with the clocks
// skew says, until stop closes.
func sendSkewedClip(w clockWriter, media *description.Media, clip *testClip, skew clockSkew, stop <-chan struct{}) {
	enc := &rtph264.Encoder{PayloadType: 96, PacketizationMode: 1}
	_ = enc.Init()
	const rtpBase = 500_000
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	lastSR := start
	i := 0
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		el := time.Since(start)
		for {
			loop, k := i/len(clip.aus), i%len(clip.aus)
			dts := clip.dts[k] + int64(loop)*clip.duration
			if time.Duration(dts)*time.Second/90000 > el {
				break
			}
			i++
			pkts, err := enc.Encode(clip.aus[k])
			if err != nil {
				continue
			}
			pts := float64(clip.pts[k]+int64(loop)*clip.duration) * skew.rate
			for _, p := range pkts {
				p.Timestamp = uint32(rtpBase + int64(pts))
				_ = w.WritePacketRTPWithNTP(media, p, time.Now().Add(skew.offset))
			}
		}
		if now := time.Now(); !skew.noSenderReports && now.Sub(lastSR) >= 500*time.Millisecond {
			lastSR = now
			rtpNow := uint32(rtpBase + int64(float64(now.Sub(start))*skew.rate*90000/float64(time.Second)))
			_ = w.WritePacketRTCP(media, &rtcp.SenderReport{SSRC: 1, NTPTime: toNTP(now.Add(skew.offset)), RTPTime: rtpNow})
		}
	}
}

// A camera read directly: its media clock rate and its wall clock are
// both judged.
func TestProbeClockOfCamera(t *testing.T) {
	verifyNoLeaks(t)
	clip := loadClip(t, clipSpec{})
	for _, tc := range []struct {
		name       string
		rate       float64
		offset     time.Duration
		wantRate   CheckResult
		wantOffset CheckResult
		wantText   string
	}{
		{"a good camera", 1, 0, CheckPass, CheckPass, ""},
		{"10 % fast, 40 s ahead", 1.10, 40 * time.Second, CheckFail, CheckWarn, "ahead of the server"},
		{"3 % slow, 10 min behind", 0.97, -10 * time.Minute, CheckWarn, CheckWarn, "10.0 min behind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cam := startClockCamera(t, clip, tc.rate, tc.offset)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := Probe(ctx, cam.url(), 3*time.Second, TransportTCP)
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(rep.Clock)
			t.Logf("clock %s", js)
			rate, offset := checkNamed(rep.Checks, "clock-rate"), checkNamed(rep.Checks, "clock-offset")
			if rate.Result != tc.wantRate || offset.Result != tc.wantOffset {
				t.Fatalf("clock-rate %s (%s), clock-offset %s (%s); want %s, %s", rate.Result, rate.Message,
					offset.Result, offset.Message, tc.wantRate, tc.wantOffset)
			}
			if tc.wantText != "" && !strings.Contains(offset.Message, tc.wantText) {
				t.Errorf("clock-offset says %q, want %q in it", offset.Message, tc.wantText)
			}
			if rep.Clock == nil || rep.Clock.SenderReports == 0 || rep.Clock.OffsetS == nil || rep.Clock.Video == nil {
				t.Fatalf("clock figures missing: %s", js)
			}
			if d := *rep.Clock.OffsetS - tc.offset.Seconds(); d < -1 || d > 1 {
				t.Errorf("offset_s %v, want about %v", *rep.Clock.OffsetS, tc.offset.Seconds())
			}
		})
	}
}

// A feed with a fast or slow media clock, published by ffmpeg to the
// server's push ingest and probed, as a pre-session check does, through
// the server's re-serve: the drift survives the relay, the server's own
// sender reports are not taken for the camera's clock.
func TestProbeClockThroughReserve(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	checkLeaks(t)
	srv := startServer(t, testkit.Logger(t))
	for i, tc := range []struct {
		name     string
		setpts   string // the filter that skews the timestamps; "" none
		wantRate CheckResult
	}{
		{"true clock", "", CheckPass},
		{"timestamps 10 % fast", "settb=1/90000,setpts=1.1*PTS", CheckFail},
		{"timestamps 3 % slow", "settb=1/90000,setpts=0.97*PTS", CheckWarn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("skew-%d", i)
			src := runPush(t, srv, id, "push://")
			args := []string{"-hide_banner", "-loglevel", "warning", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"}
			if tc.setpts != "" {
				args = append(args, "-vf", tc.setpts, "-fps_mode", "passthrough", "-enc_time_base", "1/90000")
			}
			args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0", "-g", "25",
				"-pix_fmt", "yuv420p", "-t", "60", "-f", "rtsp", "-rtsp_transport", "tcp", srv.url+"/ingest/"+id)
			ff := &ffmpegPublisher{cmd: exec.Command("ffmpeg", args...), done: make(chan struct{})}
			ff.cmd.Stderr = writerFunc(func(b []byte) (int, error) {
				ff.mu.Lock()
				defer ff.mu.Unlock()
				return ff.stderr.Write(b)
			})
			if err := ff.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { ff.err = ff.cmd.Wait(); close(ff.done) }()
			t.Cleanup(ff.kill)
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			waitOnline(ctx, t, src)
			rep, err := ProbeWith(ctx, srv.url+"/sources/"+id, 4*time.Second, ProbeOptions{Transport: TransportTCP, Relayed: true})
			if err != nil {
				t.Fatalf("probe: %v (ffmpeg: %s)", err, ff.output())
			}
			js, _ := json.Marshal(rep.Clock)
			t.Logf("clock %s", js)
			rate, offset := checkNamed(rep.Checks, "clock-rate"), checkNamed(rep.Checks, "clock-offset")
			if rate.Result != tc.wantRate {
				t.Fatalf("clock-rate %s (%s), want %s", rate.Result, rate.Message, tc.wantRate)
			}
			if tc.wantRate != CheckPass && !strings.Contains(rate.Message, "clock drift") {
				t.Errorf("clock-rate message %q does not say clock drift", rate.Message)
			}
			if offset.Result != CheckPass || !strings.Contains(offset.Message, "not measured") || rep.Clock.OffsetS != nil {
				t.Errorf("clock-offset %s %q offset %v: the re-serve's reports were taken for the camera's", offset.Result, offset.Message, rep.Clock.OffsetS)
			}
		})
	}
}
