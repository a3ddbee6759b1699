package gst

import (
	"log/slog"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// needElements skips a test when a GStreamer plugin it needs is missing.
func needElements(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if !HasElement(n) {
			t.Skipf("GStreamer element %s is not installed", n)
		}
	}
}
