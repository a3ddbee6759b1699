package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"diemcau/ingest/avsync"
	"diemcau/internal/proctest"
)

// TestProbeAVEndToEnd runs the lip-sync meter of the real binary on the
// avsync pattern as the project sends it: camsim over RTSP, a sim:// source
// re-served over RTSP and sent over WHEP; on ffmpeg-made files with the
// sound late or missing; and on nothing. The pattern in sync must read
// within ±20 ms of 0 with all its sound.
func TestProbeAVEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts processes")
	}
	dir := t.TempDir()
	camPort, rtspPort, httpPort := proctest.FreePortPair(t), proctest.FreePortPair(t), proctest.FreePort(t)
	proctest.Start(t, binary, "camsim", "--listen", fmt.Sprintf("127.0.0.1:%d", camPort), "--cameras", "2",
		"--size", "320x180", "--fps", "30", "--bitrate", "300", "--pattern", "avsync", "--user", "tech", "--pass", "k4m3r4")
	const token = "probe-av-e2e-token"
	cfg := fmt.Sprintf(`
http: {listen: "127.0.0.1:%d"}
rtsp: {listen: "127.0.0.1:%d", read_user: xem, read_pass: "d0c-k1n"}
webrtc: {udp_port: 0}
archive: {root: %q, min_free: 0}
store: %q
auth:
  tokens:
    - {name: tech, role: admin, sha256: %q}
sources:
  - {id: tinh, name: "Tỉnh", url: "sim://tinh?pattern=avsync"}
`, httpPort, rtspPort, filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"), sha256Hex(token))
	cfgFile := writeConfigIn(t, dir, cfg)
	proctest.Start(t, binary, "serve", "--config", cfgFile).WaitLine(t, "sim source online", 60*time.Second)

	inSync := []struct{ name, url string }{
		{"camsim over RTSP", fmt.Sprintf("rtsp://tech:k4m3r4@127.0.0.1:%d/cam2", camPort)},
		{"sim source re-served over RTSP", fmt.Sprintf("rtsp://xem:d0c-k1n@127.0.0.1:%d/sources/tinh", rtspPort)},
		{"sim source over WHEP", fmt.Sprintf("http://127.0.0.1:%d/whep/sources/tinh", httpPort)},
	}
	for _, tc := range inSync {
		t.Run(tc.name, func(t *testing.T) {
			code, rep, out := probeAV(t, "--seconds", "4", "--token", token, tc.url)
			if code != 0 || rep.Offset == nil || math.Abs(rep.Offset.Median) > 20 || rep.Audio == nil || rep.Audio.Present < 98 {
				t.Fatalf("exit %d, want 0 with the offset within ±20 ms and ≥ 98 %% of the sound\n%s", code, out)
			}
			if strings.Contains(out, "k4m3r4") || strings.Contains(out, "d0c-k1n") || strings.Contains(out, token) {
				t.Errorf("the report shows a secret:\n%s", out)
			}
		})
	}

	pattern := "color=c=black:s=320x180:r=30:d=5[bg];color=c=gray:s=16x16:r=30:d=5[b];" +
		"[bg][b]overlay=x='mod(t*240\\,W)':y=H-20:eval=frame,drawbox=w=iw:h=ih:color=white:t=fill:enable='lt(mod(t\\,1)\\,0.1)'[out0]"
	late := filepath.Join(dir, "late.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", pattern, "-f", "lavfi", "-i", "aevalsrc='if(lt(mod(t-0.1\\,1)\\,0.1)\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000:d=5",
		"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", late)
	mute := filepath.Join(dir, "mute.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", pattern, "-c:v", "libx264", "-preset", "ultrafast", mute)

	t.Run("sound 100 ms late fails with +100 ms", func(t *testing.T) {
		code, rep, out := probeAV(t, late)
		if code != 1 || rep.Offset == nil || math.Abs(rep.Offset.Median-100) > 5 {
			t.Fatalf("exit %d, want 1 with an offset of about +100 ms\n%s", code, out)
		}
	})
	t.Run("an mp4 without sound fails", func(t *testing.T) {
		code, rep, out := probeAV(t, mute)
		if code != 1 || !strings.Contains(strings.Join(rep.Reasons, ";"), "no audio") {
			t.Fatalf("exit %d, want 1 for no audio\n%s", code, out)
		}
	})
	t.Run("the human table names the verdict", func(t *testing.T) {
		code, out := run(t, 60*time.Second, binary, "probe", "--av", late)
		if code != 1 || !strings.Contains(out, "A/V offset   +100") || !strings.Contains(out, "FAIL") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("nothing to connect to exits 2", func(t *testing.T) {
		port := proctest.FreePort(t)
		code, _, out := probeAV(t, "--seconds", "2", fmt.Sprintf("rtsp://u:pw123@127.0.0.1:%d/x", port))
		if code != 2 || strings.Contains(out, "pw123") {
			t.Fatalf("exit %d, want 2 without the password\n%s", code, out)
		}
		if code, _, out = probeAV(t, "--token", "not-the-token", fmt.Sprintf("http://127.0.0.1:%d/whep/sources/tinh", httpPort)); code != 2 {
			t.Fatalf("WHEP with a wrong token: exit %d, want 2\n%s", code, out)
		}
	})
}

// probeAV runs `diemcau probe --av --json` and decodes its report.
func probeAV(t *testing.T, args ...string) (int, avsync.Report, string) {
	t.Helper()
	code, out := run(t, 120*time.Second, binary, append([]string{"probe", "--av", "--json"}, args...)...)
	var rep avsync.Report
	if i := strings.Index(out, "{"); i >= 0 {
		_ = json.NewDecoder(strings.NewReader(out[i:])).Decode(&rep)
	}
	return code, rep, out
}

func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-v", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}
