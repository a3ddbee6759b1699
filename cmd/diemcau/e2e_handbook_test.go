package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"diemcau/internal/proctest"
	"diemcau/internal/testkit"
)

// TestHandbookWalkthrough follows the operator's handbook (docs/van-hanh.md)
// from the sample config to an exported archive, running the handbook's own
// commands where it gives them: an operator token made with its openssl
// line, a signing key made with its openssl lines, a camera checked with
// probe, the sample config with the camera, token and key put in, a check,
// a live run, stop, verify on the server, export to a "drive" with the
// public key, and the checks of docs/archive.md ("Checking a run without
// diemcau") run as written on the copy. A handbook step that stops working
// fails here.
func TestHandbookWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts processes")
	}
	for _, tool := range []string{"openssl", "sha256sum", "sed", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the handbook needs %s: %v", tool, err)
		}
	}
	dir := t.TempDir() // the server's working folder, as /var/lib/diemcau
	handbook := readDoc(t, "van-hanh.md")

	// §0.1: an operator token; only its hash goes into the config.
	out := runShell(t, dir, docBlock(t, handbook, "openssl rand -hex 32"))
	m := regexp.MustCompile(`mã: ([0-9a-f]{64})\s+([0-9a-f]{64})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the token line printed %q, want the token and its sha256", out)
	}
	token, tokenHash := m[1], m[2]
	if sha256Hex(token) != tokenHash {
		t.Fatalf("the handbook's hash %s is not the token's sha256", tokenHash)
	}

	// §0.2: the signing key, in dir rather than /etc/diemcau.
	runShell(t, dir, strings.ReplaceAll(docBlock(t, handbook, "openssl genpkey"), "/etc/diemcau/", dir+"/"))
	keyFile := filepath.Join(dir, "seal.key")
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("seal.key: %v (want mode 600)", err)
	}

	// §1: a camera set as §1 asks (25 fps, sound), checked with probe
	// before it is declared.
	camPort := proctest.FreePortPair(t)
	proctest.Start(t, binary, "camsim", "--listen", fmt.Sprintf("127.0.0.1:%d", camPort), "--cameras", "1",
		"--size", "320x180", "--fps", "25", "--bitrate", "600", "--audio", "--user", "admin", "--pass", "matkhau")
	camURL := fmt.Sprintf("rtsp://admin:matkhau@127.0.0.1:%d/cam1", camPort)
	var code int
	testkit.Eventually(t, 30*time.Second, "probe passes the camera", func() bool {
		code, out = run(t, 60*time.Second, binary, "probe", "--seconds", "3", camURL)
		return code == 0
	})
	if !strings.Contains(out, "Verdict  PASS") || strings.Contains(out, "matkhau") {
		t.Fatalf("probe: want the verdict PASS and no password\n%s", out)
	}

	// §0 and §2–3: the sample config, with the camera, the token and the key.
	httpPort := proctest.FreePort(t)
	cfgFile := handbookConfig(t, dir, handbookPorts{http: httpPort, rtsp: proctest.FreePortPair(t),
		srt: proctest.FreePort(t)}, camURL, tokenHash, keyFile)
	srv := proctest.StartIn(t, dir, nil, binary, "serve", "--config", cfgFile)
	srv.WaitLine(t, "console", 60*time.Second)
	a := api{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), token: token}

	// §4: the check, by hand: the camera's point passes.
	testkit.Eventually(t, 30*time.Second, "the camera online", func() bool { return a.source("tinh")["state"] == "online" })
	status, rep := a.call("POST", "/api/v1/sessions/demo/checks", "")
	if status != 201 {
		t.Fatalf("check: status %d %v", status, rep)
	}
	for _, p := range rep["points"].([]any) {
		p := p.(map[string]any)
		if p["point_id"] == "tinh" && p["verdict"] == "fail" {
			t.Errorf("the camera's point fails the check: %v", p["reasons"])
		}
	}

	// §5 and §7: live, then stop.
	if status, body := a.call("POST", "/api/v1/sessions/demo/start", `{"mode": "live"}`); status != 200 {
		t.Fatalf("start live: status %d %v", status, body)
	}
	testkit.Eventually(t, 60*time.Second, "two composite segments", func() bool {
		segs, _ := filepath.Glob(filepath.Join(dir, "archive", "demo", "*", "composite", "*.mp4"))
		return len(segs) >= 2
	})
	if status, body := a.call("POST", "/api/v1/sessions/demo/stop", ""); status != 200 {
		t.Fatalf("stop: status %d %v", status, body)
	}
	runs, _ := filepath.Glob(filepath.Join(dir, "archive", "demo", "*"))
	if len(runs) != 1 {
		t.Fatalf("runs %v, want one", runs)
	}
	runRel, _ := filepath.Rel(dir, runs[0])

	// §8: verify on the server, in its working folder, then export.
	code, out = runIn(t, dir, 60*time.Second, binary, "archive", "verify", "--config", cfgFile, runRel)
	if code != 0 || !strings.Contains(out, "signature checked") || !strings.Contains(out, "the store's record agrees") {
		t.Fatalf("verify: exit %d, want 0 with the signature checked and the witness agreeing\n%s", code, out)
	}
	t.Logf("verify: %s", strings.TrimSpace(out))
	usb := filepath.Join(dir, "usb")
	if err := os.Mkdir(usb, 0o755); err != nil {
		t.Fatal(err)
	}
	code, out = runIn(t, dir, 60*time.Second, binary, "archive", "export", "--run", runRel, "--to", usb, "--key", "seal.pub")
	if code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("export: exit %d\n%s", code, out)
	}

	t.Logf("export: %s", strings.TrimSpace(out))

	// At the archive: docs/archive.md's checks, as written, on the copy.
	copyDir := filepath.Join(usb, "demo", filepath.Base(runs[0]))
	checkWithoutDiemcau(t, copyDir, filepath.Join(dir, "seal.pub"))
}

// checkWithoutDiemcau runs the three checks of docs/archive.md on a copy of
// a run, in a scratch folder so that the copy is left as exported.
func checkWithoutDiemcau(t *testing.T, runDir, pubKey string) {
	t.Helper()
	doc := readDoc(t, "archive.md")
	work := t.TempDir()
	if code, out := run(t, 30*time.Second, "cp", "-a", runDir+"/.", work); code != 0 {
		t.Fatalf("cp: %s", out)
	}
	if code, out := run(t, 10*time.Second, "cp", pubKey, filepath.Join(work, "seal.pub")); code != 0 {
		t.Fatalf("cp: %s", out)
	}
	hashes := runShell(t, work, docBlock(t, doc, "sha256sum -c"))
	if strings.Contains(hashes, "FAILED") || strings.Count(hashes, ": OK") < 3 {
		t.Errorf("sha256sum -c: want every segment OK\n%s", hashes)
	}
	chain := strings.TrimSpace(runShell(t, work, docBlock(t, doc, "chain broken")))
	if !regexp.MustCompile(`^\d+ lines$`).MatchString(chain) {
		t.Errorf("the chain check printed %q, want only its line count", chain)
	}
	seal := runShell(t, work, docBlock(t, doc, "openssl pkeyutl -verify"))
	if !strings.Contains(seal, "Signature Verified Successfully") {
		t.Errorf("the seal check printed %q", seal)
	}
	t.Logf("without diemcau: %d segments OK, %s, %s", strings.Count(hashes, ": OK"), chain, strings.TrimSpace(seal))
}

type handbookPorts struct{ http, rtsp, srt int }

// handbookConfig is configs/diemcau.yaml as the handbook has it edited: the
// province's camera, the operator's token, the signing key, local ports;
// the session starts by hand (§3) and is small for a test machine.
func handbookConfig(t *testing.T, dir string, p handbookPorts, camURL, tokenHash, keyFile string) string {
	t.Helper()
	raw, err := os.ReadFile("../../configs/diemcau.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	section := func(key string) map[string]any { return cfg[key].(map[string]any) }
	section("http")["listen"] = fmt.Sprintf("127.0.0.1:%d", p.http)
	section("rtsp")["listen"] = fmt.Sprintf("127.0.0.1:%d", p.rtsp)
	section("srt")["listen"] = fmt.Sprintf("127.0.0.1:%d", p.srt)
	section("webrtc")["udp_port"] = 0
	section("auth")["tokens"] = []any{map[string]any{"name": "ky-thuat", "role": "operator", "sha256": tokenHash}}
	archive := section("archive")
	archive["segment"], archive["part"], archive["min_free"], archive["signing_key"] = "2s", "500ms", "0", keyFile
	for _, s := range cfg["sources"].([]any) {
		if s := s.(map[string]any); s["id"] == "tinh" {
			s["url"], s["transport"] = camURL, "tcp"
		}
	}
	for _, s := range cfg["sessions"].([]any) {
		s := s.(map[string]any)
		s["start"] = "manual"
		s["output"] = map[string]any{"width": 320, "height": 180, "fps": 15, "bitrate": 400}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "diemcau.yaml")
	if err := os.WriteFile(file, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// readDoc reads one of the project's docs.
func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// docBlock is the fenced sh code block of doc that contains marker.
func docBlock(t *testing.T, doc, marker string) string {
	t.Helper()
	var block strings.Builder
	in := false
	sc := bufio.NewScanner(strings.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		fence := strings.TrimLeft(line, " ") // blocks inside list items are indented
		switch {
		case !in && strings.HasPrefix(fence, "```sh"):
			in = true
			block.Reset()
		case in && strings.HasPrefix(fence, "```"):
			in = false
			if strings.Contains(block.String(), marker) {
				return block.String()
			}
		case in:
			block.WriteString(line + "\n")
		}
	}
	t.Fatalf("no sh block with %q in the doc", marker)
	return ""
}

// runShell runs a doc's shell lines in dir and returns what they printed;
// a failing line fails the test.
func runShell(t *testing.T, dir, script string) string {
	t.Helper()
	code, out := runIn(t, dir, 60*time.Second, "sh", "-e", "-c", script)
	if code != 0 {
		t.Fatalf("the doc's lines failed (exit %d):\n%s\n%s", code, script, out)
	}
	return out
}
