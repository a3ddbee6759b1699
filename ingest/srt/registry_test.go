package srt

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"diemcau/ingest"
	"diemcau/internal/testkit"
)

// srt:// sources in a registry, as serve runs them: an encoder that calls
// again carries the stream's timeline on; a new passphrase restarts the
// source on the same feed (the old encoder is dropped, the old passphrase
// refused); a removed source's stream id is unknown.
func TestSourcesInRegistry(t *testing.T) {
	needFFmpeg(t)
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	reg := ingest.NewRegistry(log, nil, nil)
	srv, err := New(Config{Listen: "127.0.0.1:0"}, log, reg.Get)
	if err != nil {
		t.Fatal(err)
	}
	reg.SetFactory("srt", srv.NewSourceFactory())
	const pass2 = "the-second-passphrase"
	if _, err := reg.Add(ingest.SourceConfig{ID: "cam", URL: "srt://:" + testPassphrase + "@"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{srv.Run, reg.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})
	<-srv.Listening()
	addr := srv.Addr().String()
	stream, _ := reg.Stream("cam")
	c := countFrames(t, stream)
	status := func() ingest.Status { st, _ := reg.Status("cam"); return st }

	for i := range 2 {
		if out, err := publish(t, publishOpts{addr: addr, streamID: "ingest/cam", passphrase: testPassphrase, seconds: 1, fps: 25}); err != nil {
			t.Fatalf("publish %d: %v\n%s", i, err, out)
		}
		testkit.Eventually(t, 5*time.Second, "offline", func() bool { return status().State == ingest.StateOffline })
	}
	if st := status(); st.Reconnects != 1 {
		t.Errorf("reconnects %d, want 1", st.Reconnects)
	}

	// A new passphrase while an encoder publishes: it is dropped.
	done := make(chan error, 1)
	go func() {
		_, err := publish(t, publishOpts{addr: addr, streamID: "ingest/cam", passphrase: testPassphrase, seconds: 10, fps: 25})
		done <- err
	}()
	testkit.Eventually(t, 5*time.Second, "online", func() bool { return status().State == ingest.StateOnline })
	if _, err := reg.Update(ingest.SourceConfig{ID: "cam", URL: "srt://:" + pass2 + "@"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(8 * time.Second):
		t.Fatal("the encoder with the old passphrase was not dropped")
	}
	if _, err := publish(t, publishOpts{addr: addr, streamID: "ingest/cam", passphrase: testPassphrase, seconds: 1, fps: 25}); err == nil {
		t.Fatal("the old passphrase still let an encoder in")
	}
	if out, err := publish(t, publishOpts{addr: addr, streamID: "ingest/cam", passphrase: pass2, seconds: 1, fps: 25}); err != nil {
		t.Fatalf("new passphrase: %v\n%s", err, out)
	}
	c.mu.Lock()
	backwards, video := c.backwards, c.video
	c.mu.Unlock()
	if backwards != 0 || video < 60 {
		t.Errorf("across reconnects and the restart: %d video frames, %d went back", video, backwards)
	}

	if err := reg.Remove("cam"); err != nil {
		t.Fatal(err)
	}
	if _, err := publish(t, publishOpts{addr: addr, streamID: "ingest/cam", passphrase: pass2, seconds: 1, fps: 25}); err == nil {
		t.Fatal("a removed source took an encoder")
	}
	testkit.Eventually(t, 5*time.Second, "refusal logged", func() bool {
		return strings.Contains(logs.String(), "reason=unknown_source")
	})
}
