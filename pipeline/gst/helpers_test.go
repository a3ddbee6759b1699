package gst

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// needElements skips a test when a GStreamer plugin it needs is missing.
func needElements(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if !HasElement(n) {
			t.Skipf("GStreamer element %s is not installed", n)
		}
	}
}
