package control

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRecordingFileWithRangeAndNoEscape(t *testing.T) {
	root := t.TempDir()
	run := filepath.Join(root, "demo", "20261126T080000Z", "composite")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "000001.mp4"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "secret.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "secret.txt"), filepath.Join(run, "link.mp4")); err != nil {
		t.Fatal(err)
	}
	base := startServer(t, Deps{Sources: fakeSources{}, Recordings: fakeRecordings{root}})
	get := func(path, rng string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer op-token")
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	tests := []struct {
		name, path, rng string
		status          int
		body            string
	}{
		{"whole", "/api/v1/recordings/demo/20261126T080000Z/composite/000001.mp4", "", 200, "0123456789"},
		{"range", "/api/v1/recordings/demo/20261126T080000Z/composite/000001.mp4", "bytes=2-4", 206, "234"},
		{"missing", "/api/v1/recordings/demo/20261126T080000Z/composite/000002.mp4", "", 404, ""},
		{"dot dot", "/api/v1/recordings/demo/20261126T080000Z/composite/..%2F..%2F..%2Fsecret.txt", "", 400, ""},
		{"symlink out", "/api/v1/recordings/demo/20261126T080000Z/composite/link.mp4", "", 400, ""},
		{"bad run", "/api/v1/recordings/demo/notastamp/x.mp4", "", 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(tc.path, tc.rng)
			if status != tc.status && !(tc.status == 400 && status == 404) {
				t.Fatalf("status %d, want %d (%s)", status, tc.status, body)
			}
			if tc.body != "" && body != tc.body {
				t.Fatalf("body %q, want %q", body, tc.body)
			}
			if status >= 400 && body == "x" {
				t.Fatal("a file outside the archive was served")
			}
		})
	}
}
