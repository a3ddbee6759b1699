package whep

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"diemcau/ingest"
	"diemcau/internal/testkit"
)

// TestPuller: a whep:// source plays a WHEP stream (a point node's return
// feed) into its own stream at the stream's rate, and comes back by itself
// when the far end ends the viewer.
func TestPuller(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{})
	ts.resolver.sessions["demo"] = feedStream(t, "demo", clip, false)
	host := strings.TrimPrefix(ts.http.URL, "http://")

	for _, bad := range []string{"whep://" + host + "/api/v1/sources", "http://" + host + "/whep/sessions/demo", "whep:///whep/sessions/demo"} {
		if _, err := NewPuller(ingest.SourceConfig{ID: "hub", URL: bad}, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	p, err := NewPuller(ingest.SourceConfig{ID: "hub", URL: "whep://:" + testToken + "@" + host + "/whep/sessions/demo"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "puller", p.Run)
	online := func(d time.Duration) {
		t.Helper()
		testkit.Eventually(t, d, "the pulled feed online", func() bool { return p.Status().State == ingest.StateOnline })
	}
	online(15 * time.Second)
	if strings.Contains(p.Status().URL, testToken) {
		t.Errorf("status shows the token: %q", p.Status().URL)
	}
	fc := countFrames(p.Stream())
	const window = 2 * time.Second
	time.Sleep(window)
	fc.stop()
	video, audio := fc.video.Load(), fc.audio.Load()
	t.Logf("in %v: %d pictures, %d audio frames", window, video, audio)
	if want := uint64(window.Seconds() * float64(clip.fps) * 0.8); video < want {
		t.Errorf("%d pictures in %v, want at least %d", video, window, want)
	}
	if want := uint64(window.Seconds() * 50 * 0.8); audio < want {
		t.Errorf("%d audio frames in %v, want at least %d", audio, window, want)
	}

	// The far end ends its viewers (its session restarted): back by itself.
	if n := ts.srv.EndSession("demo"); n != 1 {
		t.Fatalf("EndSession ended %d viewers, want 1", n)
	}
	testkit.Eventually(t, 5*time.Second, "the pulled feed offline", func() bool { return p.Status().State != ingest.StateOnline })
	start := time.Now()
	online(15 * time.Second)
	t.Logf("back online %v after the far end dropped it", time.Since(start).Round(10*time.Millisecond))
}
