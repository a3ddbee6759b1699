package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"diemcau/control"
	"diemcau/control/whep"
	"diemcau/ingest"
)

// TestLimitKeys: the limit keys reach the servers' configs from the file
// and from DIEMCAU_* variables, with defaults when absent.
func TestLimitKeys(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		cfg, err := loadConfig(writeConfig(t, validConfig), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := rtspLimits(cfg); got != (ingest.ServerLimits{MaxConns: 1000, MaxConnsPerIP: 100, FirstRequestTimeout: 10 * time.Second}) {
			t.Errorf("rtsp limits %+v", got)
		}
		h := httpLimits(cfg)
		if h.IdleTimeout != control.DefaultHTTPIdleTimeout || h.MaxHeaderBytes != 64<<10 || h.ReadTimeout != control.DefaultHTTPReadTimeout {
			t.Errorf("http limits %+v", h)
		}
		var w whep.Config
		whepLimits(cfg, &w)
		if w.MaxViewers != 1000 || w.MaxViewersPerToken != whep.DefaultMaxViewersPerToken || w.MaxViewersPerIP != whep.DefaultMaxViewersPerIP {
			t.Errorf("webrtc limits %+v", w)
		}
	})
	t.Run("file and environment", func(t *testing.T) {
		body := strings.Replace(validConfig, `rtsp: {listen: ":9554"}`,
			"rtsp: {listen: \":9554\", max_conns: 50, max_conns_per_ip: 5, first_request_timeout: 3s}\n"+
				"webrtc: {max_viewers_per_token: 7, max_viewers_per_ip: -1, max_connecting_per_ip: 2}", 1)
		body = strings.Replace(body, `http: {listen: ":9080"}`,
			`http: {listen: ":9080", idle_timeout: 30s, read_timeout: 20s, read_header_timeout: 5s, max_header_bytes: 16KiB, max_conns: -1, max_conns_per_ip: 10}`, 1)
		t.Setenv("DIEMCAU_RTSP_MAX_CONNS", "77")
		cfg, err := loadConfig(writeConfig(t, body), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := rtspLimits(cfg); got != (ingest.ServerLimits{MaxConns: 77, MaxConnsPerIP: 5, FirstRequestTimeout: 3 * time.Second}) {
			t.Errorf("rtsp limits %+v", got)
		}
		if got := httpLimits(cfg); got != (control.Limits{MaxConns: -1, MaxConnsPerIP: 10, ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 20 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}) {
			t.Errorf("http limits %+v", got)
		}
		var w whep.Config
		whepLimits(cfg, &w)
		if w.MaxViewersPerToken != 7 || w.MaxViewersPerIP != -1 || w.MaxConnectingPerIP != 2 {
			t.Errorf("webrtc limits %+v", w)
		}
	})
	t.Run("a bad limit names its key", func(t *testing.T) {
		body := strings.Replace(validConfig, `rtsp: {listen: ":9554"}`, `rtsp: {listen: ":9554", max_conns: 10, max_conns_per_ip: 20}`, 1)
		_, err := loadConfig(writeConfig(t, body), nil)
		if err == nil || !strings.Contains(err.Error(), "rtsp.max_conns_per_ip") {
			t.Errorf("error %v does not name rtsp.max_conns_per_ip", err)
		}
	})
}

// TestSecretFileProblems: a TLS key every user can read is refused, with
// the fix; a TURN secret in a bad ICE URL is not repeated in the error.
func TestSecretFileProblems(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, f := range []string{cert, key} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o640, true}, {0o644, false}, {0o606, false}} {
		if err := os.Chmod(key, tc.mode); err != nil {
			t.Fatal(err)
		}
		body := strings.Replace(validConfig, `http: {listen: ":9080"}`, `http: {listen: ":9080", tls: {cert: "`+cert+`", key: "`+key+`"}}`, 1)
		_, err := loadConfig(writeConfig(t, body), nil)
		if tc.ok && err != nil {
			t.Errorf("mode %04o: %v", tc.mode, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "http.tls.key") || !strings.Contains(err.Error(), "chmod 600")) {
			t.Errorf("mode %04o: %v, want a refusal naming http.tls.key and chmod 600", tc.mode, err)
		}
	}
	body := strings.Replace(validConfig, `http: {listen: ":9080"}`, "http: {listen: \":9080\"}\nwebrtc: {ice_servers: [\"turnz:user:s3cret@turn.example.net\"]}", 1)
	_, err := loadConfig(writeConfig(t, body), nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad ICE URL: %v, want an error without the secret", err)
	}
}
