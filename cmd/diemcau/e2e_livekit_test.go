package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"diemcau/ingest"
	"diemcau/ingest/avsync"
	"diemcau/internal/proctest"
	"diemcau/internal/testkit"
)

// lkSeconds is how long the LiveKit viewer records each time.
const lkSeconds = 6

// TestOutputToLiveKit publishes a session's composite to an independent
// WHIP server, LiveKit (livekit-server, single node, no Redis), through
// sessions[].outputs, and reads it back from LiveKit with LiveKit's own Go
// client (lkread). The recording is judged by a real decoder, the lip-sync
// meter (ffmpeg): pictures at the composite's rate, Opus at 48 kHz above
// silence, and the avsync point's beeps within EBU R37 of its flashes.
// LiveKit is then killed (SIGKILL, as a crash) and started again: the
// output reconnects by itself and the viewer reads it again. When diemcau
// stops, its WHIP client ends the resource (DELETE, which LiveKit answers
// 200).
func TestOutputToLiveKit(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts processes")
	}
	lkServer, lkRead := interopBinaries(t)
	dir := t.TempDir()
	lkHTTP, lkUDP, lkTCP := proctest.FreePortPair(t), proctest.FreePortPair(t), proctest.FreePort(t)
	key, secret := "diemcau-e2e", randomHex(t, 24)
	lkCfg := filepath.Join(dir, "livekit.yaml")
	// Loopback only: the node's address is 127.0.0.1 and no STUN lookup
	// of a public one; WebRTC on one UDP port (and ICE/TCP on one).
	writeFile(t, lkCfg, fmt.Sprintf(`port: %d
bind_addresses: ["127.0.0.1"]
keys:
  %s: %q
rtc:
  udp_port: %d
  tcp_port: %d
  use_external_ip: false
  node_ip: 127.0.0.1
  enable_loopback_candidate: true
logging: {level: info}
`, lkHTTP, key, secret, lkUDP, lkTCP))
	startLiveKit := func() *proctest.Process {
		p := proctest.Start(t, lkServer, "--config", lkCfg)
		p.WaitLine(t, "starting LiveKit server", 30*time.Second)
		return p
	}
	lk := startLiveKit()

	// The publisher's token: a join grant for room "phien" that may
	// publish, signed with the key's secret by LiveKit's library.
	code, out := run(t, 30*time.Second, lkRead, "token", "-key", key, "-secret", secret, "-room", "phien", "-identity", "diemcau", "-publish")
	pubToken := strings.TrimSpace(out)
	if code != 0 || strings.Count(pubToken, ".") != 2 {
		t.Fatalf("lkread token: exit %d: %s", code, out)
	}

	const token = "livekit-e2e-token"
	httpPort, rtspPort := proctest.FreePort(t), proctest.FreePortPair(t)
	whipURL := fmt.Sprintf("http://127.0.0.1:%d/whip/v1", lkHTTP)
	cfgFile := filepath.Join(dir, "diemcau.yaml")
	writeFile(t, cfgFile, e2eServerHead(httpPort, rtspPort, filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"), token)+fmt.Sprintf(`sources:
  - {id: tinh, url: "sim://tinh?pattern=avsync"}
  - {id: xa-a, url: "sim://xa-a"}
sessions:
  - id: phien
    start: live
    output: {width: 320, height: 180, fps: 30, bitrate: 500}
    points:
      - {id: tinh, source: tinh}
      - {id: xa-a, source: xa-a}
    outputs:
      - {whip: %q, token: %q}
`, whipURL, pubToken))
	d := proctest.Start(t, binary, "serve", "--config", cfgFile)
	d.WaitLine(t, "msg=serving", 90*time.Second)
	a := api{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), token: token}
	waitOutput := func(connects float64, within time.Duration) {
		t.Helper()
		testkit.Eventually(t, within, fmt.Sprintf("the LiveKit output online after %v connects or more", connects), func() bool {
			_, s := a.call("GET", "/api/v1/sessions/phien", "")
			for _, o := range asList(s["outputs"]) {
				om, _ := o.(map[string]any)
				if n, _ := om["connects"].(float64); om["state"] == "online" && n >= connects {
					return true
				}
			}
			return false
		})
	}
	waitOutput(1, 90*time.Second)

	// Lip sync and rates are judged on a read during which the composite
	// was made in real time (the machine is shared): up to three reads.
	watch := watchRealtime(t, a, "phien", 30)
	readBack := func(t *testing.T, name string) {
		for attempt := 1; ; attempt++ {
			from := time.Now()
			rep := readLiveKit(t, lkRead, lkHTTP, key, secret, filepath.Join(dir, fmt.Sprintf("%s-%d.mp4", name, attempt)))
			why := watch.busyIn(from, time.Now())
			if why == "" {
				checkLiveKitRead(t, rep, lkSeconds, 30, true)
				return
			}
			if attempt == 3 {
				t.Logf("the composite was not made in real time during any of 3 reads (last: %s): rates and lip sync not judged", why)
				checkLiveKitRead(t, rep, lkSeconds, 30, false)
				return
			}
			t.Logf("read %d: rates and lip sync not judged, the composite was not made in real time (%s); reading again", attempt, why)
		}
	}
	t.Run("read back from LiveKit", func(t *testing.T) { readBack(t, "first") })

	// LiveKit crashes and comes back on the same ports: the output finds
	// its connection gone and publishes again, with back-off.
	_ = lk.Signal(syscall.SIGKILL)
	<-lk.Done()
	killed := time.Now()
	time.Sleep(2 * time.Second)
	lk = startLiveKit()
	answered := time.Now()
	waitOutput(2, 60*time.Second)
	t.Logf("LiveKit down %v; the output online again %v after LiveKit answered",
		answered.Sub(killed).Round(10*time.Millisecond), time.Since(answered).Round(10*time.Millisecond))
	t.Run("read back after LiveKit restarted", func(t *testing.T) { readBack(t, "after-restart") })

	// Stopping diemcau ends the WHIP resource at LiveKit.
	if !d.Stop(20 * time.Second) {
		t.Fatal("diemcau did not stop within 20 s")
	}
	testkit.Eventually(t, 10*time.Second, "LiveKit's log of the WHIP resource's DELETE", func() bool {
		for _, l := range strings.Split(lk.Output(), "\n") {
			if strings.Contains(l, "API WHIP.Delete") && strings.Contains(l, `"status": 200`) {
				return true
			}
		}
		return false
	})
	if strings.Contains(d.Output(), pubToken) || strings.Contains(d.Output(), secret) {
		t.Error("diemcau logged the LiveKit token")
	}
}

// interopBinaries are livekit-server and lkread, built into bin/ by `make
// interop` (bench/interop/livekit). Without them the test fails in CI and
// is skipped, with the reason, elsewhere.
func interopBinaries(t *testing.T) (server, reader string) {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("..", "..", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	server, reader = filepath.Join(bin, "livekit-server"), filepath.Join(bin, "lkread")
	for _, f := range []string{server, reader} {
		if _, err := os.Stat(f); err != nil {
			msg := fmt.Sprintf("%s: %v; `make interop` builds LiveKit and its reader", f, err)
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	return server, reader
}

// readLiveKit records lkSeconds of room "phien" with lkread, LiveKit's
// own client, into file, checks what it says it received, and measures
// the file with the lip-sync meter (ffmpeg decodes it).
func readLiveKit(t *testing.T, lkRead string, port int, key, secret, file string) avsync.Report {
	t.Helper()
	name := strings.TrimSuffix(filepath.Base(file), ".mp4")
	code, out := run(t, 90*time.Second, lkRead, "read", "-url", fmt.Sprintf("ws://127.0.0.1:%d", port),
		"-key", key, "-secret", secret, "-room", "phien", "-seconds", fmt.Sprint(lkSeconds), "-out", file, "-timeout", "60s")
	if code != 0 {
		t.Fatalf("%s: lkread: exit %d\n%s", name, code, out)
	}
	checkLiveKitTracks(t, name, out)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := avsync.Measure(ctx, file, avsync.Options{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	rep.Input = name
	t.Logf("%s", reportText(rep))
	return rep
}

// checkLiveKitTracks reads lkread's summary: the composite's H.264 and
// Opus, published by diemcau's identity, each lined up by LiveKit's sender
// reports.
func checkLiveKitTracks(t *testing.T, name, out string) {
	t.Helper()
	var sum struct {
		Clock  string `json:"clock"`
		Tracks []struct {
			Participant string `json:"participant"`
			Kind        string `json:"kind"`
			Mime        string `json:"mime"`
			ClockRate   uint32 `json:"clock_rate"`
			Packets     int    `json:"packets"`
			SRs         int    `json:"sender_reports"`
			Samples     int    `json:"samples"`
		} `json:"tracks"`
	}
	// The summary is stdout's one line; the client logs to stderr.
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, `{"file"`) {
			line = l
		}
	}
	if err := json.Unmarshal([]byte(line), &sum); err != nil {
		t.Fatalf("%s: lkread's summary: %v\n%s", name, err, out)
	}
	t.Logf("%s: lkread: %s", name, line)
	kinds := map[string]string{}
	for _, tr := range sum.Tracks {
		if tr.Participant != "diemcau" {
			t.Errorf("%s: a track from %q, want only diemcau's", name, tr.Participant)
		}
		kinds[tr.Kind] = strings.ToLower(tr.Mime)
		if tr.Kind == "audio" && tr.ClockRate != 48000 {
			t.Errorf("%s: audio clock %d Hz, want 48000", name, tr.ClockRate)
		}
	}
	if kinds["video"] != "video/h264" || kinds["audio"] != "audio/opus" {
		t.Errorf("%s: tracks %v, want video/h264 and audio/opus", name, kinds)
	}
}

// checkLiveKitRead judges a recording of secs seconds of a fps composite
// read from LiveKit: pictures and sound above silence; and, when timed
// (the composite was made in real time meanwhile), at least 90 % of the
// pictures, sound at 48 kHz for ≥ 98 % of the time, and the avsync point
// (sim://tinh) paired with its flashes within EBU R37.
func checkLiveKitRead(t *testing.T, rep avsync.Report, secs, fps float64, timed bool) {
	t.Helper()
	v, s := rep.Video, rep.Audio
	if v == nil || v.Frames == 0 {
		t.Fatalf("%s: no picture", rep.Input)
	}
	if s == nil || s.Samples == 0 {
		t.Fatalf("%s: no sound", rep.Input)
	}
	if v.Width != 320 || v.Height != 180 {
		t.Errorf("%s: %dx%d, want 320x180", rep.Input, v.Width, v.Height)
	}
	if s.SampleRate != 48000 {
		t.Errorf("%s: sound at %d Hz, want 48000", rep.Input, s.SampleRate)
	}
	if s.RMSDBFS < -40 {
		t.Errorf("%s: sound at %.1f dBFS RMS, want the points' tones (above -40)", rep.Input, s.RMSDBFS)
	}
	if !timed {
		return
	}
	// The picture starts at the first keyframe, which LiveKit asks for
	// when the viewer joins (the composite's encoder takes one request a
	// second: LiveKit's first may be refused, its next is not).
	if rep.Seconds < secs-2 {
		t.Errorf("%s: %.1f s of picture in %v s, want the first keyframe within 2 s of joining", rep.Input, rep.Seconds, secs)
	}
	if want := 0.9 * fps * rep.Seconds; float64(v.Frames) < want {
		t.Errorf("%s: %d pictures in %.1f s, want ≥ %.0f (90 %% of %v fps)", rep.Input, v.Frames, rep.Seconds, want, fps)
	}
	if v.MeasuredFPS < 0.9*fps {
		t.Errorf("%s: %.1f fps measured, want ≥ %.0f", rep.Input, v.MeasuredFPS, 0.9*fps)
	}
	if s.Present < avsync.MinAudioPercent {
		t.Errorf("%s: sound present %.1f %% of the time, want ≥ %.0f %%", rep.Input, s.Present, avsync.MinAudioPercent)
	}
	hz := ingest.SimToneHz("tinh")
	p, ok := bestPairings(rep.Points, func(p avsync.PointOffset) float64 { return p.ToneHz })[hz]
	switch {
	case !ok || p.Pairs < 2:
		t.Errorf("%s: the avsync point's %.0f Hz beeps are not paired with its flashes", rep.Input, hz)
	case !avsync.InLimits(p.Median):
		t.Errorf("%s: %.0f Hz at %+.1f ms (%d pairs), outside %+.0f … %+.0f ms", rep.Input, hz, p.Median, p.Pairs, avsync.EarlyLimitMS, avsync.LateLimitMS)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
