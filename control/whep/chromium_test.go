package whep

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"diemcau/internal/chrometest"
	"diemcau/internal/testkit"
)

// playback is what the viewer page's peer connection reports.
type playback struct {
	State   string  `json:"state"`
	Frames  float64 `json:"frames"`
	Samples float64 `json:"samples"`
	Codec   string  `json:"codec"`
}

const statsJS = `(async () => {
  const v = window.diemcau;
  const out = {state: v ? v.state : 'no page', frames: 0, samples: 0, codec: ''};
  if (!v || !v.pc) return out;
  const stats = await v.pc.getStats();
  stats.forEach((r) => {
    if (r.type !== 'inbound-rtp') return;
    if (r.kind === 'video') {
      out.frames += r.framesDecoded || 0;
      const c = stats.get(r.codecId);
      if (c) out.codec = c.mimeType + ' ' + (c.sdpFmtpLine || '');
    }
    if (r.kind === 'audio') out.samples += r.totalSamplesReceived || 0;
  });
  return out;
})()`

// TestChromiumPlaysViewerPage opens /watch/{session}#token=… in headless
// Chromium, a WebRTC peer this project did not write, and checks that the
// page decodes pictures and receives sound.
func TestChromiumPlaysViewerPage(t *testing.T) {
	browser := chrometest.Path(t)
	clip := loadClip(t, false)
	// The browser is killed at the end, without DELETE: a short timeout
	// lets the test see its viewer reaped.
	ts := startServer(t, Config{DisconnectTimeout: time.Second})
	ts.resolver.sessions["demo"] = feedStream(t, "demo", clip, false)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alloc, cancelAlloc := chrometest.NewAllocator(ctx, t, browser)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()

	url := ts.http.URL + "/watch/demo#token=" + inviteToken
	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	read := func() (playback, error) {
		return chromedp.Run(tab, chromedp.Evaluate[playback](statsJS, chromedp.EvalAwaitPromise))
	}
	var first playback
	deadline := time.Now().Add(45 * time.Second)
	for {
		p, err := read()
		if err != nil {
			t.Fatalf("getStats: %v", err)
		}
		if p.Frames > 0 && p.Samples > 0 {
			first = p
			break
		}
		if time.Now().After(deadline) || p.State == "unplayable" {
			label, _ := chromedp.Run(tab, chromedp.Text("#state"))
			t.Fatalf("page never played: %+v %q (server: %+v)", p, label, ts.srv.Stats())
		}
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	second, err := read()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("page %q, codec %s: framesDecoded %v → %v, audio totalSamplesReceived %v → %v",
		second.State, second.Codec, first.Frames, second.Frames, first.Samples, second.Samples)
	if second.Frames <= first.Frames {
		t.Errorf("framesDecoded not rising: %v → %v", first.Frames, second.Frames)
	}
	if second.Samples <= first.Samples {
		t.Errorf("audio totalSamplesReceived not rising: %v → %v", first.Samples, second.Samples)
	}
	if second.State != "live" {
		t.Errorf("page shows state %q, want live", second.State)
	}
	// The answer offers goog-remb: the browser reports its bandwidth
	// estimate, which the viewer's status shows (and the rendition
	// ladder reads).
	var vs []ViewerStats
	testkit.Eventually(t, 10*time.Second, "the browser's REMB", func() bool {
		vs = ts.srv.ViewerStats("demo")
		return len(vs) == 1 && vs[0].BandwidthFrom == "remb" && vs[0].BandwidthKbps > 0
	})
	t.Logf("viewer status: %+v", vs[0])
	label, err := chromedp.Run(tab, chromedp.Text("#state"))
	if err != nil {
		t.Fatal(err)
	}
	if label != "Đang phát trực tiếp" {
		t.Errorf("state label %q, want the Vietnamese for live", label)
	}
	if err := chromedp.Do(tab, chromedp.Click("#lang")); err != nil {
		t.Fatal(err)
	}
	if label, err = chromedp.Run(tab, chromedp.Text("#state")); err != nil {
		t.Fatal(err)
	}
	if label != "Live" {
		t.Errorf("after the language toggle the label is %q, want Live", label)
	}

	// A network blip: the server loses the viewer; the page must notice and
	// come back by itself with a new offer.
	ts.srv.mu.Lock()
	var old *viewer
	for _, v := range ts.srv.viewers {
		old = v
	}
	ts.srv.mu.Unlock()
	old.close("test: network blip")
	blip := time.Now()
	testkit.Eventually(t, 30*time.Second, "the page to reconnect", func() bool {
		ts.srv.mu.Lock()
		defer ts.srv.mu.Unlock()
		for id, v := range ts.srv.viewers {
			if id != old.id && v.connected.Load() {
				return true
			}
		}
		return false
	})
	t.Logf("page reconnected %v after the server dropped it", time.Since(blip).Round(100*time.Millisecond))
	before, err := read()
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "pictures after the reconnect", func() bool {
		p, err := read()
		return err == nil && p.State == "live" && p.Frames > before.Frames
	})

	cancelTab()
	cancelAlloc()
	testkit.Eventually(t, 20*time.Second, "the browser's viewer to be gone", func() bool { return ts.srv.Stats().Viewers == 0 })
}
