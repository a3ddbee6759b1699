package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"diemcau/ingest"
	"diemcau/internal/chrometest"
	"diemcau/internal/proctest"
	"diemcau/internal/testkit"
)

// browserToneHz is the sound of the join test's browser: far from every
// sim tone (200–1995 Hz), so the return feed's spectrum tells them apart.
const browserToneHz = 3000

// TestJoinPage opens a point's join link in headless Chromium, a WebRTC
// peer this project did not write, whose camera and microphone are files
// (an orange picture, a 3 kHz tone). It checks what arrives at each end:
// the point's whip:// source goes online with H.264 from the browser; the
// composite the page plays back shows the orange picture in the point's
// tile; the page decodes the return feed's pictures and sound; and the
// return feed's sound holds the other point's tone but not the browser's
// own (mix-minus).
func TestJoinPage(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts processes and a browser")
	}
	browser := chrometest.Path(t)
	dir := t.TempDir()
	y4m, wav := filepath.Join(dir, "camera.y4m"), filepath.Join(dir, "mic.wav")
	for _, args := range [][]string{
		{"-f", "lavfi", "-i", "color=c=0xff8000:s=320x180:r=30,drawbox=x='mod(t*80,280)':y=70:w=40:h=40:color=black:t=fill", "-t", "2", "-pix_fmt", "yuv420p", y4m},
		{"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=48000", browserToneHz), "-t", "2", "-ac", "1", wav},
	} {
		cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}

	rtspPort, httpPort := proctest.FreePortPair(t), proctest.FreePort(t)
	const token = "join-e2e-token"
	cfg := e2eServerHead(httpPort, rtspPort, filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"), token) + whipPointSession("manual")
	cfgFile := writeConfigIn(t, dir, cfg)
	proctest.Start(t, binary, "serve", "--config", cfgFile).WaitLine(t, "msg=serving", 90*time.Second)
	a := api{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), token: token}
	if status, body := a.call("POST", "/api/v1/sessions/phien/start", `{"mode":"rehearsal"}`); status != 200 {
		t.Fatalf("start: %d %v", status, body)
	}
	status, inv := a.call("POST", "/api/v1/sessions/phien/invites", `{"name":"UBND xã A","point":"xa-a"}`)
	link, _ := inv["url"].(string)
	if status != 201 || !strings.Contains(link, "/join/phien#token=") {
		t.Fatalf("point invite: %d %v, want a /join/phien#token= link", status, inv)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chrometest.NewAllocator(ctx, t, browser,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", y4m),
		chromedp.Flag("use-file-for-fake-audio-capture", wav),
	)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	if err := chromedp.Do(tab, chromedp.Navigate(link)); err != nil {
		t.Fatalf("open the join link: %v", err)
	}
	waitPage := func(what, expr string, d time.Duration) {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			ok, err := evalIn[bool](tab, expr)
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				state, _ := evalIn[map[string]any](tab, `({page: diemcau.page, sending: diemcau.sending, receiving: diemcau.receiving, text: document.body.innerText})`)
				t.Fatalf("%s: not within %v (err %v); page %v", what, d, err, state)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	waitPage("the page ready with the fake camera", `window.diemcau && diemcau.page === 'ready'`, 30*time.Second)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#join"))); err != nil {
		t.Fatal(err)
	}

	// The browser's picture reaches the point's source.
	testkit.Eventually(t, 60*time.Second, "xa-a online with the browser's H.264", func() bool {
		s := a.source("xa-a")
		v, _ := s["video"].(map[string]any)
		f, _ := s["frames"].(float64)
		return s["state"] == "online" && f > 30 && v != nil && strings.EqualFold(fmt.Sprint(v["codec"]), "h264")
	})
	waitPage("sending and receiving live", `diemcau.sending === 'live' && diemcau.receiving === 'live'`, 60*time.Second)

	// The return feed plays: pictures and sound rising.
	type counts struct{ Frames, Samples float64 }
	read := func() counts {
		c, err := evalIn[counts](tab, `(async () => {
  const out = {Frames: 0, Samples: 0};
  (await diemcau.pc.getStats()).forEach((r) => {
    if (r.type !== 'inbound-rtp') return;
    if (r.kind === 'video') out.Frames += r.framesDecoded || 0;
    if (r.kind === 'audio') out.Samples += r.totalSamplesReceived || 0;
  });
  return out;
})()`)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := read()
	time.Sleep(3 * time.Second)
	second := read()
	t.Logf("return feed: framesDecoded %v → %v, audio samples %v → %v", first.Frames, second.Frames, first.Samples, second.Samples)
	if second.Frames-first.Frames < 30 || second.Samples-first.Samples < 48000 {
		t.Errorf("return feed not playing: %+v → %+v in 3 s", first, second)
	}

	// The composite the page plays shows the browser's orange picture in
	// the point's tile: in a grid of two, about a quarter of the frame.
	waitPage("the browser's picture in its tile", `(() => {
  const v = document.getElementById('return');
  if (!v.videoWidth) return false;
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] > 180 && d[i+1] > 70 && d[i+1] < 180 && d[i+2] < 90) n++;
  window.orange = n / (d.length / 4);
  return window.orange > 0.08;
})()`, 30*time.Second)
	orange, _ := evalIn[float64](tab, `window.orange`)
	t.Logf("orange pixels in the return feed: %.1f %%", 100*orange)

	// Mix-minus: the point hears the province's tone, not its own.
	simTone := ingest.SimToneHz("tinh")
	spectrum, err := evalIn[struct{ Sim, Own float64 }](tab, fmt.Sprintf(`(async () => {
  const ctx = new AudioContext({sampleRate: 48000});
  const src = ctx.createMediaStreamSource(document.getElementById('return').srcObject);
  const an = ctx.createAnalyser();
  an.fftSize = 8192;
  an.smoothingTimeConstant = 0;
  src.connect(an);
  const bin = (hz) => Math.round(hz / (ctx.sampleRate / an.fftSize));
  const peak = (data, hz) => Math.max(...[-2, -1, 0, 1, 2].map((k) => data[bin(hz) + k]));
  let sim = -200, own = -200;
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const data = new Float32Array(an.frequencyBinCount);
    an.getFloatFrequencyData(data);
    sim = Math.max(sim, peak(data, %[1]g));
    own = Math.max(own, peak(data, %[2]d));
  }
  ctx.close();
  return {Sim: sim, Own: own};
})()`, simTone, browserToneHz))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("return feed spectrum: province tone %.0f Hz at %.1f dB, the browser's own %d Hz at %.1f dB", simTone, spectrum.Sim, browserToneHz, spectrum.Own)
	if spectrum.Sim < -70 {
		t.Errorf("the province's tone is missing from the return feed (%.1f dB)", spectrum.Sim)
	}
	if spectrum.Own > spectrum.Sim-30 {
		t.Errorf("the browser hears itself: its tone %.1f dB against the province's %.1f dB (mix-minus wants ≥ 30 dB less)", spectrum.Own, spectrum.Sim)
	}

	// The full mix carries the browser's sound: the point's meter moves.
	testkit.Eventually(t, 20*time.Second, "xa-a's sound in the mix", func() bool {
		_, lv := a.call("GET", "/api/v1/sessions/phien/levels", "")
		for _, p := range asList(lv["points"]) {
			pm, _ := p.(map[string]any)
			lvl, _ := pm["level"].(map[string]any)
			if pm["id"] == "xa-a" && lvl != nil {
				db, _ := lvl["rms_dbfs"].(float64)
				return db > -40
			}
		}
		return false
	})
}

// evalIn evaluates a JavaScript expression in the tab, awaiting a promise.
func evalIn[T any](tab context.Context, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}
