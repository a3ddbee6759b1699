package recorder

import (
	"context"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"diemcau/internal/testkit"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		// The crash test's child: record until killed, no leak check.
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

// startRecorder runs a recorder until the test ends.
func startRecorder(t testing.TB, cfg Config, opts ...Option) *Recorder {
	t.Helper()
	rec, err := New(cfg, testkit.Logger(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "recorder", rec.Run)
	return rec
}

func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
