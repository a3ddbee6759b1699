package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"diemcau/internal/proctest"
	"diemcau/internal/testkit"
)

// TestRestartKeepsWhatTheAPIMade: a source, a session and an invite made
// through the API are still there after the server process restarts, and
// the invite still opens the session's WHEP endpoint.
func TestRestartKeepsWhatTheAPIMade(t *testing.T) {
	dir := t.TempDir()
	httpPort, rtspPort := proctest.FreePort(t), proctest.FreePortPair(t)
	// A fixed admin token (by hash) so the second process accepts it too.
	const token = "restart-test-admin-token-0123456789abcdef"
	cfg := fmt.Sprintf(`
http: {listen: "127.0.0.1:%d"}
rtsp: {listen: "127.0.0.1:%d"}
webrtc: {udp_port: 0}
auth: {tokens: [{name: admin, role: admin, sha256: %q}]}
archive: {root: %q, min_free: 0}
store: %q
`, httpPort, rtspPort, sha256Hex(token), filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"))
	cfgFile := writeConfigIn(t, dir, cfg)
	a := api{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), token: token}
	waitHealthy := func() {
		testkit.Eventually(t, 60*time.Second, "healthz", func() bool {
			res, err := http.Get(a.base + "/healthz")
			if err == nil {
				res.Body.Close()
			}
			return err == nil && res.StatusCode == 200
		})
	}

	first := proctest.Start(t, binary, "serve", "--config", cfgFile)
	waitHealthy()
	if status, body := a.call("POST", "/api/v1/sources", `{"id":"enc9","name":"Bộ mã hoá 9","url":"push://","allow_anonymous":true}`); status != 201 {
		t.Fatalf("create source: %d %v", status, body)
	}
	if status, body := a.call("POST", "/api/v1/sessions", `{"id":"phien-9","title":"Phiên 9","points":[{"id":"p","source":"enc9"}]}`); status != 201 {
		t.Fatalf("create session: %d %v", status, body)
	}
	status, inv := a.call("POST", "/api/v1/sessions/phien-9/invites", `{"name":"Bà B"}`)
	if status != 201 {
		t.Fatalf("create invite: %d %v", status, inv)
	}
	invite := inv["token"].(string)
	if !first.Stop(15 * time.Second) {
		t.Fatal("first server did not stop on SIGTERM")
	}

	proctest.Start(t, binary, "serve", "--config", cfgFile)
	waitHealthy()
	// Started again without credentials: its allow_anonymous was kept.
	if s := a.source("enc9"); s["state"] != "connecting" || s["name"] != "Bộ mã hoá 9" || s["allow_anonymous"] != true {
		t.Fatalf("source after restart: %v", s)
	}
	if status, body := a.call("GET", "/api/v1/sessions/phien-9", ""); status != 200 || body["title"] != "Phiên 9" {
		t.Fatalf("session after restart: %d %v", status, body)
	}
	if status, body := a.call("GET", "/api/v1/sessions/phien-9/invites", ""); status != 200 || len(body["invites"].([]any)) != 1 {
		t.Fatalf("invites after restart: %d %v", status, body)
	}
	// The invite still opens the session's WHEP endpoint: past auth, the
	// answer is about the session (not running: no composite), not 401.
	whep := func(tok string) int {
		req, _ := http.NewRequest("POST", a.base+"/whep/sessions/phien-9", strings.NewReader("v=0\r\n"))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := whep(invite); got == http.StatusUnauthorized || got == http.StatusForbidden {
		t.Fatalf("invite refused after restart: %d", got)
	}
	if got := whep("not-" + invite); got != http.StatusUnauthorized {
		t.Fatalf("wrong invite: %d, want 401", got)
	}
}

// TestHTTPS: with http.tls set the control plane answers over TLS only.
func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	httpPort, rtspPort := proctest.FreePort(t), proctest.FreePortPair(t)
	cfg := fmt.Sprintf(`
http: {listen: "127.0.0.1:%d", tls: {cert: %q, key: %q}}
rtsp: {listen: "127.0.0.1:%d"}
webrtc: {udp_port: 0}
archive: {root: %q, min_free: 0}
store: %q
`, httpPort, certFile, keyFile, rtspPort, filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"))
	cfgFile := writeConfigIn(t, dir, cfg)
	srv := proctest.Start(t, binary, "serve", "--config", cfgFile)
	line := srv.WaitLine(t, "console", 60*time.Second)
	if !strings.Contains(line, "https://") {
		t.Fatalf("console line %q should say https", line)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	res, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/healthz", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.TLS == nil {
		t.Fatalf("https healthz: %d", res.StatusCode)
	}
}

func writeSelfSigned(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "diemcau test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
