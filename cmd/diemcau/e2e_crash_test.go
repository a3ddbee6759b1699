package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"diemcau/internal/proctest"
	"diemcau/internal/testkit"
)

// TestKillDuringLiveRunAndResume: SIGKILL the server while a live session
// records; on restart the interrupted run is repaired and sealed, every
// segment of it opens in ffprobe, verify passes, and recording resumes in a
// new run folder.
func TestKillDuringLiveRunAndResume(t *testing.T) {
	dir := t.TempDir()
	camPort, httpPort, rtspPort := proctest.FreePortPair(t), proctest.FreePort(t), proctest.FreePortPair(t)
	proctest.Start(t, binary, "camsim", "--listen", fmt.Sprintf("127.0.0.1:%d", camPort), "--cameras", "1",
		"--size", "320x180", "--fps", "15", "--bitrate", "300")
	const token = "crash-test-admin-token-0123456789abcdef"
	cfg := fmt.Sprintf(`
http: {listen: "127.0.0.1:%d"}
rtsp: {listen: "127.0.0.1:%d"}
webrtc: {udp_port: 0}
auth: {tokens: [{name: admin, role: admin, sha256: %q}]}
archive: {root: %q, segment: 1s, part: 500ms, min_free: 0}
store: %q
sources:
  - {id: cam1, url: "rtsp://127.0.0.1:%d/cam1", transport: tcp}
sessions:
  - id: phien
    start: live
    output: {width: 320, height: 180, fps: 15, bitrate: 300}
    points: [{id: tinh, source: cam1}]
`, httpPort, rtspPort, sha256Hex(token), filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"), camPort)
	cfgFile := writeConfigIn(t, dir, cfg)
	a := api{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), token: token}
	segments := func() float64 {
		_, s := a.call("GET", "/api/v1/sessions/phien", "")
		rec, _ := s["recording"].(map[string]any)
		if rec == nil {
			return 0
		}
		return rec["segments"].(float64)
	}

	first := proctest.Start(t, binary, "serve", "--config", cfgFile)
	first.WaitLine(t, "console", 60*time.Second)
	testkit.Eventually(t, 60*time.Second, "two segments closed", func() bool { return segments() >= 2 })
	time.Sleep(700 * time.Millisecond) // into the next segment's parts
	if err := first.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.Done()

	second := proctest.Start(t, binary, "serve", "--config", cfgFile)
	second.WaitLine(t, "console", 60*time.Second)
	testkit.Eventually(t, 60*time.Second, "recording resumed", func() bool { return segments() >= 1 })
	_, recs := a.call("GET", "/api/v1/sessions/phien/recordings", "")
	runs, _ := recs["runs"].([]any)
	if len(runs) != 2 {
		t.Fatalf("want the interrupted run and a new one, got %d: %v", len(runs), recs)
	}
	var old map[string]any
	for _, r := range runs {
		if rm := r.(map[string]any); rm["live"] != true {
			old = rm
		}
	}
	if old == nil || old["sealed"] != true || old["seal_reason"] != "interrupted" {
		t.Fatalf("interrupted run: %v", old)
	}
	oldDir := filepath.Join(dir, "archive", filepath.FromSlash(old["id"].(string)))
	if code, out := run(t, 60*time.Second, binary, "archive", "verify", oldDir); code != 0 || !strings.Contains(out, "interrupt") {
		t.Fatalf("verify of the repaired run: exit %d\n%s", code, out)
	}
	// The store witnessed every line, the repair's too, while the server
	// was killed and restarted: the repaired manifest agrees with it.
	if code, out := run(t, 60*time.Second, binary, "archive", "verify", "--config", cfgFile, oldDir); code != 0 || !strings.Contains(out, "witness: the store's record agrees") {
		t.Fatalf("verify against the store's witness: exit %d\n%s", code, out)
	}
	if v, _ := old["verify"].(map[string]any); v["state"] != "ok" || v["witness"] != "agrees" {
		t.Errorf("the recordings API's verify of the repaired run: %v", v)
	}
	segs, _ := filepath.Glob(filepath.Join(oldDir, "*", "*", "*.mp4"))
	comp, _ := filepath.Glob(filepath.Join(oldDir, "composite", "*.mp4"))
	for _, seg := range append(segs, comp...) {
		if code, out := run(t, 30*time.Second, "ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", seg); code != 0 || !strings.Contains(out, "h264") {
			t.Errorf("%s does not open: exit %d %s", seg, code, out)
		}
	}
}
