package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"diemcau/internal/proctest"
	"diemcau/internal/testkit"
)

// TestSubStreamEndToEnd: camsim cameras send a 640x360 main stream and a
// 320x180 sub-stream; the config gives each source both. Each source's
// status carries its sub-stream under sub; the 640x360 grid of four
// decodes every point's sub-stream (320x180 tiles), speaker decodes the
// focus's main stream; the archive keeps the main streams.
func TestSubStreamEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts processes")
	}
	dir := t.TempDir()
	camPort, rtspPort, httpPort := proctest.FreePortPair(t), proctest.FreePortPair(t), proctest.FreePort(t)
	proctest.Start(t, binary, "camsim", "--listen", fmt.Sprintf("127.0.0.1:%d", camPort), "--cameras", "4",
		"--size", "640x360", "--sub-size", "320x180", "--fps", "15", "--bitrate", "300", "--audio")
	var sources strings.Builder
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&sources, "  - {id: cam%d, url: \"rtsp://127.0.0.1:%d/cam%d\", sub_url: \"rtsp://127.0.0.1:%d/cam%d/sub\", transport: tcp}\n", i, camPort, i, camPort, i)
	}
	cfg := fmt.Sprintf(`
http: {listen: "127.0.0.1:%d"}
rtsp: {listen: "127.0.0.1:%d"}
webrtc: {udp_port: 0}
archive: {root: %q, segment: 2s, part: 500ms, min_free: 0}
store: %q
sources:
%ssessions:
  - id: phien
    title: "Tiếp công dân"
    layout: grid
    start: manual
    output: {width: 640, height: 360, fps: 15, bitrate: 500}
    points:
      - {id: tinh, source: cam1, role: province}
      - {id: xa-a, source: cam2}
      - {id: xa-b, source: cam3}
      - {id: xa-c, source: cam4}
`, httpPort, rtspPort, filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"), sources.String())
	cfgFile := writeConfigIn(t, dir, cfg)
	_, a := serveWithPrintedToken(t, cfgFile, httpPort)

	testkit.Eventually(t, 60*time.Second, "every sub-stream online", func() bool {
		for i := 1; i <= 4; i++ {
			sub, _ := a.source(fmt.Sprintf("cam%d", i))["sub"].(map[string]any)
			if sub == nil || sub["state"] != "online" || sub["frames"].(float64) == 0 {
				return false
			}
		}
		return true
	})
	s := a.source("cam1")
	main, _ := s["video"].(map[string]any)
	sub, _ := s["sub"].(map[string]any)
	subVideo, _ := sub["video"].(map[string]any)
	if main["width"] != 640.0 || subVideo["width"] != 320.0 || subVideo["height"] != 180.0 {
		t.Errorf("cam1: main video %v, sub video %v; want 640 and 320x180", main, subVideo)
	}

	feeds := func() map[string]string {
		_, sess := a.call("GET", "/api/v1/sessions/phien", "")
		out := map[string]string{}
		for _, p := range sess["points"].([]any) {
			pm := p.(map[string]any)
			f, _ := pm["feed"].(string)
			out[pm["id"].(string)] = f
		}
		return out
	}
	if status, body := a.call("POST", "/api/v1/sessions/phien/start", `{"mode":"live"}`); status != 200 {
		t.Fatalf("start: %d %v", status, body)
	}
	testkit.Eventually(t, 60*time.Second, "every tile of the grid on its sub-stream", func() bool {
		for _, f := range feeds() {
			if f != "sub" {
				return false
			}
		}
		return true
	})
	if status, body := a.call("PUT", "/api/v1/sessions/phien/layout", `{"layout":"speaker","focus":"tinh"}`); status != 200 {
		t.Fatalf("layout: %d %v", status, body)
	}
	testkit.Eventually(t, 30*time.Second, "the focus on its main stream, the others on their sub-streams", func() bool {
		f := feeds()
		return f["tinh"] == "main" && f["xa-a"] == "sub" && f["xa-b"] == "sub" && f["xa-c"] == "sub"
	})
	testkit.Eventually(t, 30*time.Second, "source segments archived", func() bool {
		segs, _ := filepath.Glob(filepath.Join(dir, "archive", "phien", "*", "sources", "cam1", "*.mp4"))
		return len(segs) >= 2
	})
	if status, body := a.call("POST", "/api/v1/sessions/phien/stop", ""); status != 200 {
		t.Fatalf("stop: %d %v", status, body)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "archive", "phien", "*", "sources", "*", "*.mp4"))
	if len(segs) < 4 {
		t.Fatalf("source segments: %v", segs)
	}
	for _, seg := range segs {
		code, out := run(t, 30*time.Second, "ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", seg)
		if code != 0 || strings.TrimSpace(out) != "640,360" {
			t.Errorf("%s: exit %d %q, want the main stream's 640,360", seg, code, out)
		}
	}
}
