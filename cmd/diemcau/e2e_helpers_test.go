package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"diemcau/internal/proctest"
)

// binary is the diemcau binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if fuzzing() {
		// make fuzz runs with -run '^$': no end-to-end test needs the
		// binary, and each fuzz worker would build it again.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "diemcau-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, err = proctest.BuildDiemcau(dir, "-race")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fuzzing reports whether this process fuzzes (coordinator or worker).
func fuzzing() bool {
	f, w := flag.Lookup("test.fuzz"), flag.Lookup("test.fuzzworker")
	return (f != nil && f.Value.String() != "") || (w != nil && w.Value.String() == "true")
}

// api calls the control plane and decodes a JSON answer.
type api struct {
	t     *testing.T
	base  string
	token string
}

func (a api) call(method, path, body string) (int, map[string]any) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, a.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, m
}

func (a api) source(id string) map[string]any {
	a.t.Helper()
	_, m := a.call("GET", "/api/v1/sources/"+id, "")
	return m
}

// run runs a command to its end and returns its exit code and output.
func run(t *testing.T, timeout time.Duration, name string, args ...string) (int, string) {
	t.Helper()
	return runIn(t, "", timeout, name, args...)
}

// runIn is run with dir as the working folder ("" for the test's own).
func runIn(t *testing.T, dir string, timeout time.Duration, name string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: timed out\n%s", name, args, out)
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	return 0, string(out)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// e2eServerHead is the start of an end-to-end test's config: loopback
// ports, SRT off, any WebRTC port, short archive segments in the test's
// folder, and one admin token.
func e2eServerHead(httpPort, rtspPort int, archive, store, token string) string {
	return fmt.Sprintf(`
http: {listen: "127.0.0.1:%d"}
rtsp: {listen: "127.0.0.1:%d"}
srt: {listen: ""}
webrtc: {udp_port: 0}
archive: {root: %q, segment: 4s, part: 500ms, min_free: 0}
store: %q
auth:
  tokens:
    - {name: tech, role: admin, sha256: %q}
`, httpPort, rtspPort, archive, store, sha256Hex(token))
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeConfigIn writes cfg as dir/diemcau.yaml and returns its path.
func writeConfigIn(t *testing.T, dir, cfg string) string {
	t.Helper()
	p := filepath.Join(dir, "diemcau.yaml")
	writeFile(t, p, cfg)
	return p
}

// serveWithPrintedToken starts diemcau serve on cfgFile, with no token
// configured, and returns it and its API under the admin token it prints.
func serveWithPrintedToken(t *testing.T, cfgFile string, httpPort int) (*proctest.Process, api) {
	t.Helper()
	srv := proctest.Start(t, binary, "serve", "--config", cfgFile)
	tokenLine := srv.WaitLine(t, "admin token", 60*time.Second)
	return srv, api{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), token: tokenLine[strings.LastIndex(tokenLine, " ")+1:]}
}

// probeSegment reads a source's 2 s archive segment with ffprobe: 320×180
// H.264 and sound in audioCodec, at least minVideo pictures and minAudio
// sound frames.
func probeSegment(t *testing.T, what, seg, audioCodec string, minVideo, minAudio int) {
	t.Helper()
	code, out := run(t, 30*time.Second, "ffprobe", "-v", "error", "-count_packets",
		"-show_entries", "stream=codec_type,codec_name,width,height,nb_read_packets", "-of", "csv=p=0", seg)
	t.Logf("%s: %s", filepath.Base(seg), strings.ReplaceAll(strings.TrimSpace(out), "\n", "; "))
	if code != 0 || !strings.Contains(out, "h264,video,320,180") || !strings.Contains(out, audioCodec+",audio") {
		t.Fatalf("ffprobe of %s: exit %d\n%s", what, code, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, ",")
		n, _ := strconv.Atoi(f[len(f)-1])
		if (f[1] == "video" && n < minVideo) || (f[1] == "audio" && n < minAudio) {
			t.Errorf("%s packets: %d in a 2 s segment", f[1], n)
		}
	}
}

// whipPointSession is the sources and session of a hub whose point xa-a
// publishes over WHIP beside the sim:// source tinh; start is the
// session's start (manual, live).
func whipPointSession(start string) string {
	return fmt.Sprintf(`sources:
  - {id: tinh, url: "sim://tinh"}
  - {id: xa-a, url: "whip://", publish_sha256: %q}
sessions:
  - id: phien
    start: %s
    layout: grid
    output: {width: 320, height: 180, fps: 30, bitrate: 500}
    points:
      - {id: tinh, source: tinh, label: "Tỉnh"}
      - {id: xa-a, source: xa-a, label: "Xã A"}
`, sha256Hex("unused-publish-secret"), start)
}
