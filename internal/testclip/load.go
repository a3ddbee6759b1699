package testclip

import (
	"os"
	"os/exec"
	"sync"
)

// TB is the part of testing.TB that Load uses; taking it rather than
// testing.TB keeps the testing package out of the non-test code (the
// benchmarks' WHIP client) that encodes clips.
type TB interface {
	Helper()
	Skip(args ...any)
	Fatalf(format string, args ...any)
}

// cache holds each spec's clip once per test binary: ffmpeg runs are the
// slow part of the tests that feed real media, on two shared cores.
var cache sync.Map // Spec (with defaults) -> *result

type result struct {
	once sync.Once
	clip *Clip
	err  error
}

// Load returns the clip of spec, encoded on first use in this process and
// shared after: callers must not change its bytes. It skips the test where
// ffmpeg is not installed and fails it where encoding fails.
func Load(t TB, spec Spec) *Clip {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	v, _ := cache.LoadOrStore(spec.withDefaults(), &result{})
	r := v.(*result)
	r.once.Do(func() {
		dir, err := os.MkdirTemp("", "diemcau-testclip-")
		if err != nil {
			r.err = err
			return
		}
		defer os.RemoveAll(dir)
		r.clip, r.err = Encode(dir, spec)
	})
	if r.err != nil {
		t.Fatalf("encode test clip: %v", r.err)
	}
	return r.clip
}
