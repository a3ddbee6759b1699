package sim

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"diemcau/ingest"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// sim320 makes sim sources at the tests' picture size, on the registry's
// feed.
func sim320(cfg ingest.SourceConfig, log *slog.Logger) (ingest.Source, error) {
	return New(Config{ID: cfg.ID, Name: cfg.Name, URL: cfg.URL, Width: 320, Height: 180, FPS: 15, BitrateKbps: 200, Audio: true, Feed: cfg.Feed}, log)
}

// feedWatch reads a feed the way the composite and the archive do: one
// reader, attached once, for the whole test.
type feedWatch struct {
	t      *testing.T
	r      *pipeline.Reader
	lastPT time.Duration
	track  *pipeline.Track // the video track of the last video frame
}

// frames reads until n video frames arrived after the call, failing on a
// closed stream, a timestamp going back or the timeout.
func (w *feedWatch) frames(n int, within time.Duration) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for got := 0; got < n; {
		f, err := w.r.Read(ctx)
		if err != nil {
			w.t.Fatalf("after %d of %d video frames: %v", got, n, err)
		}
		if f.Track == nil || f.Track.Kind() != pipeline.Video {
			continue
		}
		if f.PTS < w.lastPT {
			w.t.Fatalf("video PTS went back: %v after %v", f.PTS, w.lastPT)
		}
		w.lastPT, w.track = f.PTS, f.Track
		got++
	}
}

// A source's new name changes the name only; a new url restarts it on the
// same feed, so a reader attached before (a running session's composite or
// archive) goes on reading the new source's frames on a forward timeline;
// settings that cannot make a source change nothing.
func TestRegistryUpdateKeepsTheFeed(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	reg := ingest.NewRegistry(slog.New(slog.DiscardHandler), nil, sim320)
	first, err := reg.Add(ingest.SourceConfig{ID: "tinh", Name: "UBND Tỉnh", URL: "sim://tinh"})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "registry", reg.Run)

	feed, _ := reg.Stream("tinh")
	w := &feedWatch{t: t, r: feed.NewReader(pipeline.ReaderConfig{Name: "test"})}
	defer w.r.Close()
	w.frames(10, 30*time.Second)

	steps := []struct {
		name    string
		cfg     ingest.SourceConfig
		wantErr bool
		restart bool
	}{
		{"rename", ingest.SourceConfig{ID: "tinh", Name: "UBND Tỉnh (mới)", URL: "sim://tinh"}, false, false},
		{"new url", ingest.SourceConfig{ID: "tinh", Name: "UBND Tỉnh (mới)", URL: "sim://tinh-moi"}, false, true},
		{"bad url", ingest.SourceConfig{ID: "tinh", Name: "x", URL: "http://nope"}, true, false},
		{"unknown id", ingest.SourceConfig{ID: "khong-co", URL: "sim://x"}, true, false},
	}
	current := first
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			w.t = t
			before := w.track
			src, err := reg.Update(st.cfg)
			if (err != nil) != st.wantErr {
				t.Fatalf("err = %v, want error %v", err, st.wantErr)
			}
			if err == nil && (src != current) != st.restart {
				t.Fatalf("restarted = %v, want %v", src != current, st.restart)
			}
			if s, _ := reg.Stream("tinh"); s != feed {
				t.Fatal("the source's stream changed: readers would have to attach again")
			}
			w.frames(15, 30*time.Second)
			if restarted := w.track != before; restarted != st.restart {
				t.Fatalf("frames of a new source = %v, want %v", restarted, st.restart)
			}
			if err == nil {
				current = src
			}
			got, _ := reg.Status("tinh")
			if got.State != ingest.StateOnline || (err == nil && got.Name != st.cfg.Name) {
				t.Fatalf("status %s %q", got.State, got.Name)
			}
		})
	}
}
