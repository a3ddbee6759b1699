package testkit

import (
	"bytes"
	"log/slog"
	"os"
	"sync"
	"testing"
)

// Logger is a component's logger for test t: its lines are kept and shown
// when t fails, so a passing run stays quiet and a failing one shows the
// component's side. Info and above: debug lines cost a media test CPU it
// may not have. With DIEMCAU_TEST_LOG set (to "debug" for every level)
// they go to stderr as they come. Lines written after t ended (a goroutine still stopping) are
// dropped, not a panic as t.Log would be.
func Logger(t testing.TB) *slog.Logger {
	t.Helper()
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if os.Getenv("DIEMCAU_TEST_LOG") == "debug" {
		opts.Level = slog.LevelDebug
	}
	if os.Getenv("DIEMCAU_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	b := &buffer{}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if t.Failed() && b.buf.Len() > 0 {
			t.Logf("log:\n%s", b.buf.String())
		}
		b.ended = true
	})
	return slog.New(slog.NewTextHandler(b, opts))
}

type buffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ended bool
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ended {
		b.buf.Write(p)
	}
	return len(p), nil
}
