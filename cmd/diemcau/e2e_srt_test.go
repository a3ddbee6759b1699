package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"diemcau/internal/proctest"
	"diemcau/internal/testkit"
)

// TestSRTEndToEnd: a hardware encoder (ffmpeg) publishes MPEG-TS over SRT
// with its passphrase: the source comes online with SRT's figures, its
// tile is live in the composite of a live session, its segments hold
// picture and sound, and a wrong passphrase is refused with its reason.
func TestSRTEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts processes")
	}
	if out, err := execOut("ffmpeg", "-hide_banner", "-protocols"); err != nil || !strings.Contains(out, "srt") {
		t.Skip("ffmpeg with libsrt not installed")
	}
	const pass = "e2e-srt-passphrase"
	dir := t.TempDir()
	rtspPort, httpPort, srtPort := proctest.FreePortPair(t), proctest.FreePort(t), proctest.FreePortPair(t)
	cfg := fmt.Sprintf(`
http: {listen: "127.0.0.1:%d"}
rtsp: {listen: "127.0.0.1:%d"}
srt: {listen: "127.0.0.1:%d", latency: 200ms}
webrtc: {udp_port: 0}
archive: {root: %q, segment: 2s, part: 500ms, min_free: 0}
store: %q
sources:
  - {id: enc, name: "Bộ mã hoá SRT", url: "srt://:%s@"}
  - {id: open, url: "srt://", allow_anonymous: true}
sessions:
  - id: phien
    start: manual
    output: {width: 320, height: 180, fps: 15, bitrate: 400}
    points:
      - {id: xa, source: enc}
`, httpPort, rtspPort, srtPort, filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"), pass)
	cfgFile := writeConfigIn(t, dir, cfg)
	srv := proctest.Start(t, binary, "serve", "--config", cfgFile)
	t.Cleanup(func() {
		if t.Failed() {
			var files []string
			_ = filepath.Walk(filepath.Join(dir, "archive"), func(p string, _ os.FileInfo, _ error) error {
				files = append(files, p)
				return nil
			})
			out := srv.Output()
			t.Logf("archive: %v\nserver log (tail):\n%s", files, out[max(0, len(out)-6000):])
		}
	})
	tokenLine := srv.WaitLine(t, "admin token", 60*time.Second)
	token := tokenLine[strings.LastIndex(tokenLine, " ")+1:]
	a := api{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), token: token}
	if !strings.Contains(srv.Output(), `srt source takes encoders without a passphrase`) || !strings.Contains(srv.Output(), "source=open") {
		t.Errorf("no start-up warning for the anonymous srt source")
	}

	srtURL := func(streamID, passphrase string) string {
		return fmt.Sprintf("srt://127.0.0.1:%d?streamid=%s&passphrase=%s&pbkeylen=16&latency=200000", srtPort, streamID, passphrase)
	}
	encoder := func(url string, extra ...string) []string {
		args := []string{"-hide_banner", "-loglevel", "error", "-re",
			"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15", "-f", "lavfi", "-i", "sine=frequency=800:sample_rate=48000"}
		args = append(args, extra...)
		return append(args, "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15", "-pix_fmt", "yuv420p",
			"-c:a", "aac", "-b:a", "64k", "-f", "mpegts", url)
	}

	t.Run("wrong passphrase refused with its reason", func(t *testing.T) {
		code, out := run(t, 30*time.Second, "ffmpeg", encoder(srtURL("ingest/enc", "not-the-passphrase"), "-t", "1")...)
		if code == 0 {
			t.Fatalf("ffmpeg with a wrong passphrase was let in:\n%s", out)
		}
		srv.WaitLine(t, "reason=wrong_passphrase", 10*time.Second)
		code, _ = run(t, 30*time.Second, "ffmpeg", encoder(srtURL("ingest/nope", pass), "-t", "1")...)
		if code == 0 {
			t.Fatal("ffmpeg to an unknown stream id was let in")
		}
		srv.WaitLine(t, "reason=unknown_source", 10*time.Second)
	})

	top := t // the encoder runs for the rest of the test
	t.Run("encoder online with SRT figures", func(t *testing.T) {
		proctest.Start(top, "ffmpeg", encoder(srtURL("#!::r=ingest/enc,m=publish", pass))...)
		testkit.Eventually(t, 30*time.Second, "enc online", func() bool {
			s := a.source("enc")
			return s["state"] == "online" && s["frames"].(float64) > 30
		})
		s := a.source("enc")
		v, _ := s["video"].(map[string]any)
		au, _ := s["audio"].(map[string]any)
		st, _ := s["srt"].(map[string]any)
		if v["codec"] != "h264" || v["width"] != 320.0 || au["codec"] != "aac" || st["connected"] != true || st["encrypted"] != true ||
			st["packets_received"].(float64) == 0 || s["transport"] != "srt" {
			t.Fatalf("source: %v", s)
		}
		if strings.Contains(fmt.Sprint(s), pass) {
			t.Fatalf("the passphrase is shown: %v", s)
		}
		res, err := http.Get(a.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, m := range []string{`diemcau_source_srt_rtt_ms{source="enc"}`, `diemcau_source_srt_packets_received_total{source="enc"}`,
			`diemcau_srt_refused_total{reason="wrong_passphrase"} 1`, `diemcau_srt_refused_total{reason="unknown_source"} 1`} {
			if !strings.Contains(string(body), m) {
				t.Errorf("/metrics lacks %s", m)
			}
		}
	})

	var runDir string
	t.Run("tile live in the composite, archived", func(t *testing.T) {
		if status, body := a.call("POST", "/api/v1/sessions/phien/start", `{"mode":"live"}`); status != 200 || body["state"] != "live" {
			t.Fatalf("start: %d %v", status, body)
		}
		testkit.Eventually(t, 60*time.Second, "point xa online in the composite", func() bool {
			_, s := a.call("GET", "/api/v1/sessions/phien", "")
			for _, p := range asList(s["points"]) {
				if pm, _ := p.(map[string]any); pm["id"] == "xa" && pm["state"] == "online" {
					return true
				}
			}
			return false
		})
		testkit.Eventually(t, 60*time.Second, "two segments of enc", func() bool {
			segs, _ := filepath.Glob(filepath.Join(dir, "archive", "phien", "*", "sources", "enc", "*.mp4"))
			return len(segs) >= 3 // two closed, one being written
		})
		if status, body := a.call("POST", "/api/v1/sessions/phien/stop", ""); status != 200 || body["state"] != "ended" {
			t.Fatalf("stop: %d %v", status, body)
		}
		segs, _ := filepath.Glob(filepath.Join(dir, "archive", "phien", "*", "sources", "enc", "*.mp4"))
		runDir = filepath.Dir(filepath.Dir(filepath.Dir(segs[0])))
		// The first segment, closed whole: 2 s of 15 fps and 48 kHz AAC
		// (30 and 94 frames). ffmpeg's MPEG-TS muxer sends sound up to
		// 0.7 s behind the picture, so a segment closed at the stop may
		// hold less of it.
		probeSegment(t, "the SRT source's segment", segs[0], "aac", 28, 88)
	})

	t.Run("archive verifies", func(t *testing.T) {
		if runDir == "" {
			t.Skip("no run")
		}
		if code, out := run(t, 60*time.Second, binary, "archive", "verify", runDir); code != 0 {
			t.Fatalf("verify: exit %d\n%s", code, out)
		}
	})

	t.Run("passphrase never logged, clean stop", func(t *testing.T) {
		if out := srv.Output(); strings.Contains(out, pass) || strings.Contains(out, "not-the-passphrase") {
			t.Error("a passphrase reached the log")
		}
		if !srv.Stop(15 * time.Second) {
			t.Fatal("server did not stop within 15 s of SIGTERM")
		}
		if err := srv.Err(); err != nil || strings.Contains(srv.Output(), "DATA RACE") {
			t.Fatalf("server exit: %v (a race is exit status 66)", err)
		}
	})
}

// execOut runs a short command and returns its output.
func execOut(name string, args ...string) (string, error) {
	out, err := osexec.Command(name, args...).CombinedOutput()
	return string(out), err
}
