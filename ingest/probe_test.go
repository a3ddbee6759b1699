package ingest

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"

	"diemcau/internal/proctest"
)

func checkResult(rep ProbeReport, name string) CheckResult {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c.Result
		}
	}
	return ""
}

func TestProbe(t *testing.T) {
	verifyNoLeaks(t)
	cases := []struct {
		name        string
		spec        clipSpec
		opts        cameraOpts
		seconds     time.Duration
		wantVerdict CheckResult
		wantChecks  map[string]CheckResult
		wantPlay    bool
		wantCodec   string
	}{
		{
			name: "browser-ready h264 with g711", spec: clipSpec{cbrKbps: 900}, opts: cameraOpts{pcmu: true, user: "tech", pass: "pr0be-secret"},
			seconds: 2500 * time.Millisecond, wantVerdict: CheckPass, wantPlay: true, wantCodec: "h264",
			wantChecks: map[string]CheckResult{"codec": CheckPass, "bframes": CheckPass, "fps": CheckPass, "bitrate": CheckPass, "gop": CheckPass, "audio": CheckPass,
				"clock-rate": CheckPass, "clock-offset": CheckPass},
		},
		{
			name: "b-frames and aac", spec: clipSpec{bframes: true, audio: true, cbrKbps: 900}, opts: cameraOpts{audio: true},
			seconds: 2 * time.Second, wantVerdict: CheckWarn, wantCodec: "h264",
			wantChecks: map[string]CheckResult{"bframes": CheckWarn, "audio": CheckWarn, "codec": CheckPass},
		},
		{
			name: "weak feed", spec: clipSpec{fps: 10, seconds: 5, gop: 50, cbrKbps: 300}, opts: cameraOpts{pcmu: true},
			seconds: 6 * time.Second, wantVerdict: CheckWarn, wantCodec: "h264", wantPlay: true,
			wantChecks: map[string]CheckResult{"fps": CheckWarn, "bitrate": CheckWarn, "gop": CheckWarn, "clock-rate": CheckPass},
		},
		{
			name: "h265", spec: clipSpec{hevc: true}, opts: cameraOpts{pcmu: true},
			seconds: 2 * time.Second, wantVerdict: CheckWarn, wantCodec: "h265",
			wantChecks: map[string]CheckResult{"codec": CheckWarn},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clip := loadClip(t, tc.spec)
			cam := startTestCamera(t, clip, tc.opts)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := Probe(ctx, cam.URL(tc.opts.user, tc.opts.pass), tc.seconds, TransportTCP)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			js, _ := json.MarshalIndent(rep, "", "  ")
			t.Logf("%s", js)
			if rep.Verdict != tc.wantVerdict {
				t.Errorf("verdict = %s, want %s", rep.Verdict, tc.wantVerdict)
			}
			for name, want := range tc.wantChecks {
				if got := checkResult(rep, name); got != want {
					t.Errorf("check %s = %q, want %q", name, got, want)
				}
			}
			if rep.BrowserPlayable != tc.wantPlay {
				t.Errorf("browser_playable = %v, want %v", rep.BrowserPlayable, tc.wantPlay)
			}
			if !rep.Connected || rep.Video == nil || rep.Video.Codec != tc.wantCodec || rep.Video.Width != 320 || rep.Video.Height != 180 {
				t.Fatalf("video = %+v, want %s 320x180", rep.Video, tc.wantCodec)
			}
			wantFPS := float64(max(tc.spec.fps, 25))
			if tc.spec.fps != 0 {
				wantFPS = float64(tc.spec.fps)
			}
			if d := rep.Video.FPS - wantFPS; d < -1 || d > 1 {
				t.Errorf("fps = %v, want about %v", rep.Video.FPS, wantFPS)
			}
			if tc.opts.pass != "" && strings.Contains(string(js), tc.opts.pass) {
				t.Error("the report shows the password")
			}
		})
	}
}

// The JSON a script reads: field names and types are part of the interface.
func TestProbeJSONShape(t *testing.T) {
	verifyNoLeaks(t)
	clip := loadClip(t, clipSpec{})
	cam := startTestCamera(t, clip, cameraOpts{pcmu: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Probe(ctx, cam.URL("", ""), 1500*time.Millisecond, TransportAuto)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"url", "connected", "transport", "seconds", "video", "audio", "bitrate_kbps", "packets_lost", "browser_playable", "clock", "checks", "verdict"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report has no %q: %s", k, js)
		}
	}
	video, _ := m["video"].(map[string]any)
	for _, k := range []string{"codec", "profile", "width", "height", "fps", "gop_s", "bitrate_kbps", "bframes"} {
		if _, ok := video[k]; !ok {
			t.Errorf("video has no %q: %s", k, js)
		}
	}
	clock, _ := m["clock"].(map[string]any)
	if _, ok := clock["sender_reports"]; !ok {
		t.Errorf("clock has no sender_reports: %s", js)
	}
	checks, _ := m["checks"].([]any)
	if len(checks) == 0 {
		t.Fatalf("no checks: %s", js)
	}
	for _, c := range checks {
		c := c.(map[string]any)
		if c["name"] == "" || (c["result"] != "pass" && c["result"] != "warn" && c["result"] != "fail") || c["message"] == "" {
			t.Errorf("bad check %v", c)
		}
	}
}

func TestProbeFailures(t *testing.T) {
	verifyNoLeaks(t)
	clip := loadClip(t, clipSpec{})
	locked := startTestCamera(t, clip, cameraOpts{user: "admin", pass: "right"})
	mpeg4 := startTestCamera(t, clip, cameraOpts{formats: []format.Format{&format.MPEG4Video{PayloadTyp: 96}}})
	cases := []struct {
		name       string
		url        string
		wantErr    string // could not connect
		wantFailed string // connected, this check failed
	}{
		{name: "refused", url: "rtsp://127.0.0.1:" + strconv.Itoa(proctest.FreePort(t)) + "/x", wantErr: "connection refused"},
		{name: "wrong password", url: locked.URL("admin", "wrong-pw"), wantErr: "wrong username or password"},
		{name: "http url", url: "http://admin:wrong-pw@127.0.0.1/", wantErr: "not an RTSP URL"},
		{name: "unsupported codec", url: mpeg4.URL("", ""), wantFailed: "codec"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := Probe(ctx, tc.url, time.Second, TransportTCP)
			js, _ := json.Marshal(rep)
			t.Logf("err=%v report=%s", err, js)
			if strings.Contains(string(js), "wrong-pw") || (err != nil && strings.Contains(err.Error(), "wrong-pw")) {
				t.Error("password shown")
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || rep.Connected {
					t.Fatalf("err = %v connected = %v, want a connect error with %q", err, rep.Connected, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want a report", err)
			}
			if rep.Verdict != CheckFail || checkResult(rep, tc.wantFailed) != CheckFail {
				t.Errorf("verdict %s, check %s = %q; want fail", rep.Verdict, tc.wantFailed, checkResult(rep, tc.wantFailed))
			}
		})
	}
}
