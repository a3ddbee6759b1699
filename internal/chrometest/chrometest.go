// Package chrometest runs headless Chromium through chromedp for browser
// tests: a WebRTC peer this project did not write.
package chrometest

import (
	"context"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Path returns the Chromium binary, or skips the test when there is none.
// Call it first, before the test starts anything costly.
func Path(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed (the setup script installs it; CI has it)")
	return ""
}

// NewAllocator starts the Chromium at path headless, with a fresh profile
// in a temporary folder, set up to play WebRTC without a user: autoplay
// without a gesture, and peer connections over loopback. Cancel it to end
// the browser. extra adds flags (e.g. a fake camera).
func NewAllocator(ctx context.Context, t testing.TB, path string, extra ...chromedp.ExecAllocatorOption) (context.Context, context.CancelFunc) {
	return chromedp.NewExecAllocator(ctx, append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// A test server on a machine with no other address offers only
		// loopback ICE candidates, which Chromium ignores by default.
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.UserDataDir(t.TempDir()),
	}, extra...)...)
}
