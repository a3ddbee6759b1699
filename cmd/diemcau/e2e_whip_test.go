package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"diemcau/bench/whipclient"
	"diemcau/internal/proctest"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// TestWHIPEndToEnd: a point's laptop publishes H.264 and Opus over WHIP
// with its point invite, through a link that loses 5 % of the packets and
// delays each by up to 50 ms: its source comes online with its network
// figures, its tile stays live in the composite of a live session, NACKs
// are sent and counted, the source's archive plays in ffprobe, and
// deleting the invite ends the publisher.
func TestWHIPEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts processes")
	}
	if _, err := execOut("ffmpeg", "-version"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	const secret = "e2e-whip-publish-secret"
	dir := t.TempDir()
	clip, err := whipclient.EncodeClip(dir, 320, 180, 15, 300, 4)
	if err != nil {
		t.Fatal(err)
	}
	rtspPort, httpPort, udpPort := proctest.FreePortPair(t), proctest.FreePort(t), proctest.FreePortPair(t)
	cfg := fmt.Sprintf(`
http: {listen: "127.0.0.1:%d"}
rtsp: {listen: "127.0.0.1:%d"}
webrtc: {udp_port: %d}
archive: {root: %q, segment: 2s, part: 500ms, min_free: 0}
store: %q
sources:
  - {id: tinh, url: "sim://tinh"}
  - {id: xa, name: "UBND xã (WHIP)", url: "whip://", publish_sha256: %q}
sessions:
  - id: phien
    start: manual
    output: {width: 320, height: 180, fps: 15, bitrate: 400}
    points:
      - {id: tinh, source: tinh}
      - {id: xa-a, source: xa}
`, httpPort, rtspPort, udpPort, filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"), sha256Hex(secret))
	cfgFile := writeConfigIn(t, dir, cfg)
	srv, a := serveWithPrintedToken(t, cfgFile, httpPort)
	status, inv := a.call("POST", "/api/v1/sessions/phien/invites", `{"name":"UBND xã A","point":"xa-a"}`)
	invite, _ := inv["token"].(string)
	if status != 201 || invite == "" || !strings.Contains(fmt.Sprint(inv["url"]), "/join/phien#token=") {
		t.Fatalf("point invite: %d %v", status, inv)
	}
	if status, body := a.call("POST", "/api/v1/sessions/phien/start", `{"mode":"live"}`); status != 200 {
		t.Fatalf("start: %d %v", status, body)
	}
	whipAPI, err := whipclient.NewAPI()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("bad publishers refused", func(t *testing.T) {
		for _, tc := range []struct {
			name, path, token string
			want              int
		}{
			{"no token", "/whip/ingest/xa", "", 401},
			{"wrong secret", "/whip/ingest/xa", "guess", 401},
			{"a camera source", "/whip/ingest/tinh", invite, 400},
			{"admin token", "/whip/ingest/xa", a.token, 403},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := whipclient.Publish(ctx, whipAPI, a.base+tc.path, tc.token, clip, whipclient.Options{})
				if st, ok := err.(*whipclient.Status); !ok || st.Code != tc.want {
					t.Fatalf("got %v, want %d", err, tc.want)
				}
			})
		}
	})

	relay, err := whipclient.NewRelay(nil, 0.05, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	pub, err := whipclient.Publish(ctx, whipAPI, a.base+"/whip/ingest/xa", invite, clip, whipclient.Options{Relay: relay})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(ctx)

	t.Run("online through 5 % loss, tile live, NACKs counted", func(t *testing.T) {
		testkit.Eventually(t, 30*time.Second, "xa online", func() bool { return a.source("xa")["state"] == "online" })
		pointLive := func() bool {
			_, s := a.call("GET", "/api/v1/sessions/phien", "")
			for _, p := range asList(s["points"]) {
				if pm, _ := p.(map[string]any); pm["id"] == "xa-a" {
					return pm["state"] == "online"
				}
			}
			return false
		}
		testkit.Eventually(t, 60*time.Second, "point xa-a online in the composite", pointLive)
		frames0 := a.source("xa")["frames"].(float64)
		for range 16 { // 8 s
			time.Sleep(500 * time.Millisecond)
			if !pointLive() {
				t.Fatalf("point xa-a left the composite under 5 %% loss: %v", a.source("xa"))
			}
		}
		s := a.source("xa")
		n, _ := s["net"].(map[string]any)
		got := s["frames"].(float64) - frames0
		t.Logf("relay dropped %d of %d; %0.f frames in 8 s (picture 15/s + sound 50/s); publisher saw %d NACKs, %d PLIs; net %v",
			relay.Dropped(), relay.Dropped()+relay.Passed(), got, pub.NACKs(), pub.PLIs(), n)
		if n == nil || n["nacks_sent"].(float64) == 0 || pub.NACKs() == 0 {
			t.Errorf("no NACKs counted under 5 %% loss: %v", n)
		}
		if got < 0.8*8*(15+50) {
			t.Errorf("%0.f frames in 8 s, want at least 80 %% of %d", got, 8*(15+50))
		}
		res, err := http.Get(a.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, m := range []string{`diemcau_whip_nacks_total{source="xa"}`, `diemcau_whip_loss_ratio{source="xa"}`, `diemcau_whip_rtt_seconds{source="xa"}`,
			`diemcau_whip_refused_total{reason="unauthorized"} 2`} {
			if !strings.Contains(string(body), m) {
				t.Errorf("/metrics lacks %s", m)
			}
		}
	})

	t.Run("archive of the source plays", func(t *testing.T) {
		pattern := filepath.Join(dir, "archive", "phien", "*", "sources", "xa", "*.mp4")
		testkit.Eventually(t, 60*time.Second, "segments of xa", func() bool {
			segs, _ := filepath.Glob(pattern)
			return len(segs) >= 3
		})
		if status, body := a.call("POST", "/api/v1/sessions/phien/stop", ""); status != 200 {
			t.Fatalf("stop: %d %v", status, body)
		}
		segs, _ := filepath.Glob(pattern)
		probeSegment(t, "the WHIP source's segment", segs[1], "opus", 15, 60)
	})

	t.Run("the session's end ends the publisher", func(t *testing.T) {
		// Stopping the session ended the invite's rights (and its
		// publisher); the source shows offline, its tile the slate.
		testkit.Eventually(t, 5*time.Second, "xa offline", func() bool { return a.source("xa")["state"] == "offline" })
		if out := srv.Output(); strings.Contains(out, secret) || strings.Contains(out, invite) {
			t.Error("a secret reached the log")
		}
		if !srv.Stop(15 * time.Second) {
			t.Fatal("server did not stop within 15 s of SIGTERM")
		}
	})
}

// TestWHIPAVSync: the lip-sync pattern published over WHIP reads in sync
// on the source's re-serve: the publisher's two tracks, timed from their
// RTP clocks and lined up by its sender reports, keep picture and sound
// together.
func TestWHIPAVSync(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts processes")
	}
	gst.Init()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	loop, err := gst.EncodeLoop(ctx, gst.LoopConfig{TestPicture: gst.TestPicture{Width: 320, Height: 180, FPS: 30, Pattern: pipeline.PatternAVSync},
		BitrateKbps: 300, Audio: gst.AudioOpus}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Skipf("cannot encode the avsync loop here: %v", err)
	}
	clip := &whipclient.Clip{SPS: loop.Video.SPS, PPS: loop.Video.PPS, FPS: 30}
	for _, f := range loop.VideoFrames {
		clip.AUs, clip.Keys = append(clip.AUs, f.NALUs), append(clip.Keys, f.Key)
	}
	for _, f := range loop.AudioFrames {
		clip.Opus = append(clip.Opus, f.Payload)
	}
	dir := t.TempDir()
	rtspPort, httpPort := proctest.FreePortPair(t), proctest.FreePort(t)
	const secret = "avsync-publish-secret"
	cfg := fmt.Sprintf(`
http: {listen: "127.0.0.1:%d"}
rtsp: {listen: "127.0.0.1:%d", read_user: xem, read_pass: "d0c-k1n"}
webrtc: {udp_port: 0}
archive: {root: %q, min_free: 0}
store: %q
sources:
  - {id: xa, url: "whip://", publish_sha256: %q}
`, httpPort, rtspPort, filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"), sha256Hex(secret))
	cfgFile := writeConfigIn(t, dir, cfg)
	srv := proctest.Start(t, binary, "serve", "--config", cfgFile)
	// "console" is printed once HTTP listens; "webrtc listening" comes
	// before it (a CI run posted the offer between the two: refused).
	srv.WaitLine(t, "console", 60*time.Second)
	api, err := whipclient.NewAPI()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := whipclient.Publish(ctx, api, fmt.Sprintf("http://127.0.0.1:%d/whip/ingest/xa", httpPort), secret, clip, whipclient.Options{KeepTiming: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(ctx)
	srv.WaitLine(t, "publisher online", 30*time.Second)
	time.Sleep(2 * time.Second) // past the sender reports of both tracks
	code, rep, out := probeAV(t, "--seconds", "6", fmt.Sprintf("rtsp://xem:d0c-k1n@127.0.0.1:%d/sources/xa", rtspPort))
	if code != 0 || rep.Offset == nil || math.Abs(rep.Offset.Median) > 20 || rep.Audio == nil || rep.Audio.Present < 95 {
		t.Fatalf("exit %d, want 0 with the offset within ±20 ms and ≥ 95 %% of the sound\n%s", code, out)
	}
	t.Logf("A/V offset median %.1f ms, sound present %.0f %%", rep.Offset.Median, rep.Audio.Present)
}
