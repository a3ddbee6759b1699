package console

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"diemcau/internal/chrometest"
	"diemcau/internal/proctest"
	"diemcau/internal/testkit"
)

// artefacts is where screenshots go: $DIEMCAU_ARTIFACTS, or the test's
// temporary folder.
func artefacts(t *testing.T) string {
	dir := os.Getenv("DIEMCAU_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserLog keeps what the page did that the test checks afterwards: every
// URL it requested, and every script error.
type browserLog struct {
	mu     sync.Mutex
	urls   []string
	errors []string
}

func (l *browserLog) listen(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		l.urls = append(l.urls, e.Request.URL+e.Request.URLFragment)
	case *runtime.EventExceptionThrown:
		msg := e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
		l.errors = append(l.errors, msg)
	}
}

func (l *browserLog) scriptErrors() []string {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errors...)
}

// page drives one tab and fails the test with a screenshot when a step fails.
type page struct {
	t    *testing.T
	log  *browserLog
	ctx  context.Context
	dir  string
	name string
}

// openConsole opens the console at base in a tab of its own (headless
// Chromium at browser, closed when the test ends) and waits for its
// sign-in form; name and shots are its screenshots'.
func openConsole(t *testing.T, ctx context.Context, browser, shots, name, base string) page {
	t.Helper()
	alloc, cancelAlloc := chrometest.NewAllocator(ctx, t, browser)
	t.Cleanup(cancelAlloc)
	log := &browserLog{}
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithListener(log.listen))
	t.Cleanup(cancelTab)
	p := page{t: t, log: log, ctx: tab, dir: shots, name: name}
	p.start(base + "/")
	p.waitJS("the sign-in form", `!document.querySelector('#signin').hidden`, 10*time.Second)
	return p
}

// start opens the tab. Its first action must run on the tab's own context:
// a timeout there would stop the whole browser when it ends.
func (p page) start(url string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(1366, 768), chromedp.Navigate(url)); err != nil {
		p.t.Fatalf("open %s: %v", url, err)
	}
}

func (p page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.shot("failed")
		p.t.Fatalf("%s: %v", what, err)
	}
}

func evaluate[T any](p page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits until the (possibly async) expression is true.
func (p page) waitJS(what, expr string, d time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for !evaluate[bool](p, "(async () => !!("+expr+"))()") {
		if time.Now().After(deadline) {
			p.shot("failed")
			notice := evaluate[string](p, `(document.querySelector('#notice, #state') || {}).textContent || ''`)
			p.t.Fatalf("timed out waiting for %s (page says %q; script errors %v)", what, notice, p.log.scriptErrors())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (p page) shot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(p.dir, p.name+"-"+name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		p.t.Errorf("screenshot: %v", err)
	}
}

// startServer runs camsim with three cameras and diemcau with one manual
// session over the first two (the third is free to join it), and returns
// the API base URL and the admin token.
func startServer(t *testing.T) (base, token string) {
	dir := t.TempDir()
	bin, err := proctest.BuildDiemcau(dir)
	if err != nil {
		t.Fatal(err)
	}
	camPort, rtspPort, httpPort := proctest.FreePortPair(t), proctest.FreePortPair(t), proctest.FreePortPair(t)
	proctest.Start(t, bin, "camsim", "--listen", fmt.Sprintf("127.0.0.1:%d", camPort), "--cameras", "3",
		"--size", "320x180", "--fps", "15", "--bitrate", "300", "--audio")
	cfg := fmt.Sprintf(`
http: {listen: "127.0.0.1:%d"}
rtsp: {listen: "127.0.0.1:%d"}
webrtc: {udp_port: 0}
archive: {root: %q, segment: 2s, part: 500ms, min_free: 0}
store: %q
sources:
  - {id: cam1, name: "Camera tỉnh", url: "rtsp://127.0.0.1:%d/cam1", transport: tcp}
  - {id: cam2, name: "Camera xã A", url: "rtsp://127.0.0.1:%d/cam2", transport: tcp}
  - {id: cam3, name: "Camera xã B", url: "rtsp://127.0.0.1:%d/cam3", transport: tcp}
sessions:
  - id: phien
    title: "Tiếp công dân định kỳ"
    start: manual
    layout: grid
    output: {width: 320, height: 180, fps: 15, bitrate: 400}
    points:
      - {id: tinh, source: cam1, role: province, label: "UBND Tỉnh"}
      - {id: xa-a, source: cam2, role: local, label: "UBND xã A"}
`, httpPort, rtspPort, filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"), camPort, camPort, camPort)
	return serve(t, bin, dir, cfg, httpPort)
}

// serve writes cfg into dir and runs bin's server on it until the test
// ends; it returns the base URL at httpPort and the admin token the
// server prints.
func serve(t *testing.T, bin, dir, cfg string, httpPort int) (base, token string) {
	t.Helper()
	file := filepath.Join(dir, "diemcau.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := proctest.Start(t, bin, "serve", "--config", file)
	line := srv.WaitLine(t, "admin token (shown once, not stored):", 60*time.Second)
	return fmt.Sprintf("http://127.0.0.1:%d", httpPort), line[strings.LastIndex(line, " ")+1:]
}

// videoAdvances is true once the <video> found by sel has decoded pictures
// and its clock moves.
func videoAdvances(sel string) string {
	return `(async () => {
  const v = document.querySelector(` + "`" + sel + "`" + `);
  if (!v || v.readyState < 2) return false;
  const a = v.currentTime;
  await new Promise((r) => setTimeout(r, 600));
  return v.currentTime > a && v.videoWidth > 0;
})()`
}

// TestConsoleInChromium runs the console in headless Chromium against the
// real server with camsim points: sign in, sources online, a rehearsal with
// the composite playing, layout and focus changes that the API confirms,
// a point joining and leaving the running session, an invite whose join link plays in a second tab, stop; then a short live
// run whose recorded segment plays in the page.
func TestConsoleInChromium(t *testing.T) {
	browser := chrometest.Path(t)
	shots := artefacts(t)
	base, token := startServer(t)
	api := apiClient{base: base, token: token}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	p := openConsole(t, ctx, browser, shots, "console", base)
	tab, log := p.ctx, p.log
	p.shot("1-signin")

	t.Run("a wrong token is refused in words", func(t *testing.T) {
		p := page{t: t, log: log, ctx: tab, dir: shots, name: "console"}
		p.do("sign in wrongly", chromedp.SendKeys(chromedp.CSS("#token"), "not-the-token"), chromedp.Click(chromedp.CSS(`#signin-form button[type=submit]`)))
		p.waitJS("the error", `document.querySelector('#signin-form .form-error').textContent.includes('Mã truy cập sai')`, 10*time.Second)
	})

	p.do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS(`#signin-form button[type=submit]`)))
	p.waitJS("every source online", `document.querySelectorAll('#sources-table tr[data-source] .badge[data-state=online]').length === 3`, 45*time.Second)
	p.shot("2-sources")
	if got := evaluate[string](p, `sessionStorage.getItem('diemcau.token')`); got != token {
		t.Errorf("sessionStorage token = %q", got)
	}
	if evaluate[string](p, `localStorage.getItem('diemcau.token') || ''`) != "" {
		t.Error("the token reached localStorage")
	}

	t.Run("a bad field is named", func(t *testing.T) {
		p := page{t: t, log: log, ctx: tab, dir: shots, name: "console"}
		p.do("open the session form", chromedp.Click(chromedp.CSS(`a[data-tab=sessions]`)), chromedp.Click(chromedp.CSS(`#new-session`)))
		p.do("submit a bad id", chromedp.SendKeys(chromedp.CSS(`#session-form [name=id]`), "Phiên 1"), chromedp.Click(chromedp.CSS(`#session-form button[type=submit]`)))
		p.waitJS("the field error", `document.querySelector('#session-form .form-error').textContent.includes('“id”') &&
			document.querySelector('#session-form [name=id]').getAttribute('aria-invalid') === 'true'`, 10*time.Second)
		p.shot("3-session-form-error")
		p.do("close the form", chromedp.Click(chromedp.CSS(`#session-form button.cancel`)))
	})

	p.do("start the rehearsal", chromedp.Click(chromedp.CSS(`a[data-tab=sessions]`)),
		chromedp.Click(chromedp.CSS(`tr[data-session=phien] button[data-action=rehearsal]`)))
	testkit.Eventually(t, 20*time.Second, "state rehearsal", func() bool { return api.get(t, "/api/v1/sessions/phien")["state"] == "rehearsal" })
	p.waitJS("the control view", `location.hash === '#run'`, 10*time.Second)
	p.waitJS("the composite playing", videoAdvances("#composite"), 45*time.Second)
	p.shot("4-rehearsal")

	p.do("switch to speaker", chromedp.Click(chromedp.CSS(`#layouts button[data-layout=speaker]`)))
	testkit.Eventually(t, 10*time.Second, "layout speaker in the API", func() bool { return api.get(t, "/api/v1/sessions/phien")["layout"] == "speaker" })
	p.do("focus xa-a", chromedp.Click(chromedp.CSS(`.point[data-point=xa-a] .point-main`)))
	testkit.Eventually(t, 10*time.Second, "focus xa-a in the API", func() bool { return api.get(t, "/api/v1/sessions/phien")["focus"] == "xa-a" })
	p.do("mute tinh", chromedp.Click(chromedp.CSS(`.point[data-point=tinh] [data-key=mute-tinh]`)))
	testkit.Eventually(t, 10*time.Second, "tinh muted in the API", func() bool {
		pts, _ := api.get(t, "/api/v1/sessions/phien")["points"].([]any)
		return len(pts) > 0 && pts[0].(map[string]any)["muted"] == true
	})
	p.waitJS("the focus shown", `document.querySelector('.point[data-point=xa-a] .point-main').getAttribute('aria-pressed') === 'true'`, 10*time.Second)
	p.waitJS("the composite still playing", videoAdvances("#composite"), 20*time.Second)
	p.shot("5-speaker-focus")

	t.Run("a point joins and leaves the running session", func(t *testing.T) {
		p := page{t: t, log: log, ctx: tab, dir: shots, name: "console"}
		pointIDs := func() []string {
			var ids []string
			pts, _ := api.get(t, "/api/v1/sessions/phien")["points"].([]any)
			for _, pt := range pts {
				m := pt.(map[string]any)
				ids = append(ids, fmt.Sprint(m["id"], "=", m["source"]))
			}
			return ids
		}
		p.do("open the add form", chromedp.Click(chromedp.CSS(`#run-add-point`)))
		p.waitJS("only the free source offered, its id prefilled", `(() => {
  const f = document.querySelector('#point-add-form');
  const opts = [...f.querySelectorAll('[name=source] option')].map((o) => o.value);
  return !f.hidden && opts.join() === 'cam3' && f.querySelector('[name=id]').value === 'cam3';
})()`, 10*time.Second)
		// The id field is prefilled: empty it as an operator would select and
		// overwrite it.
		clearID := func() { evaluate[string](p, `document.querySelector('#point-add-form [name=id]').value = ''`) }
		clearID()
		p.do("submit a bad id", chromedp.SendKeys(chromedp.CSS(`#point-add-form [name=id]`), "Xã B"),
			chromedp.Click(chromedp.CSS(`#point-add-form button[type=submit]`)))
		p.waitJS("the field error", `document.querySelector('#point-add-form .form-error').textContent.includes('“points[2].id”') &&
			document.querySelector('#point-add-form [name=id]').getAttribute('aria-invalid') === 'true'`, 10*time.Second)
		p.shot("5a-add-point-error")
		clearID()
		p.do("add xa-b", chromedp.SendKeys(chromedp.CSS(`#point-add-form [name=id]`), "xa-b"),
			chromedp.SendKeys(chromedp.CSS(`#point-add-form [name=label]`), "UBND xã B"),
			chromedp.Click(chromedp.CSS(`#point-add-form button[type=submit]`)))
		p.waitJS("the new card", `document.querySelector('#point-add-form').hidden &&
			(document.querySelector('.point[data-point=xa-b] .point-label') || {}).textContent === 'UBND xã B'`, 10*time.Second)
		if got := strings.Join(pointIDs(), " "); got != "tinh=cam1 xa-a=cam2 xa-b=cam3" {
			t.Fatalf("points in the API after adding: %s", got)
		}
		// The other points went back as they were: tinh muted, xa-a in focus.
		sess := api.get(t, "/api/v1/sessions/phien")
		if pts, _ := sess["points"].([]any); len(pts) == 0 || pts[0].(map[string]any)["muted"] != true || sess["focus"] != "xa-a" {
			t.Errorf("adding a point changed the others: focus %v, points %v", sess["focus"], sess["points"])
		}
		p.waitJS("the composite still playing", videoAdvances("#composite"), 20*time.Second)
		p.shot("5b-point-added")

		p.do("remove xa-b", chromedp.Click(chromedp.CSS(`.point[data-point=xa-b] [data-key=remove-xa-b]`)))
		p.waitJS("the remove confirmation", `document.querySelector('#confirm').open`, 5*time.Second)
		p.shot("5c-confirm-remove")
		p.do("confirm", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
		p.waitJS("the card gone", `!document.querySelector('.point[data-point=xa-b]') && document.querySelectorAll('#run-points .point').length === 2`, 10*time.Second)
		if got := strings.Join(pointIDs(), " "); got != "tinh=cam1 xa-a=cam2" {
			t.Fatalf("points in the API after removing: %s", got)
		}
	})

	p.do("create an invite", chromedp.Click(chromedp.CSS(`a[data-tab=invites]`)),
		chromedp.SendKeys(chromedp.CSS(`#invite-name`), "UBND xã A"), chromedp.Click(chromedp.CSS(`#invite-form button[type=submit]`)))
	p.waitJS("the join link", `document.querySelector('#invite-link').value.includes('/watch/phien#token=')`, 10*time.Second)
	link := evaluate[string](p, `document.querySelector('#invite-link').value`)
	p.waitJS("the invite listed", `document.querySelectorAll('#invites-table tr[data-invite]').length === 1`, 10*time.Second)
	p.shot("6-invite")

	t.Run("the join link plays in a second tab", func(t *testing.T) {
		tab2, cancel2 := chromedp.NewContext(tab)
		defer cancel2()
		w := page{t: t, ctx: tab2, dir: shots, name: "watch"}
		w.start(link)
		w.waitJS("frames decoded", `(async () => {
  const pc = window.diemcau && window.diemcau.pc;
  if (!pc) return false;
  let n = 0;
  (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0; });
  return n > 10;
})()`, 45*time.Second)
		w.waitJS("the picture moving", videoAdvances("#video"), 20*time.Second)
		w.shot("playing")
		// The console's own player stopped when it left the control view. A
		// loaded machine may have the page reconnect once: allow for it.
		deadline := time.Now().Add(30 * time.Second)
		for {
			if v, _ := api.get(t, "/api/v1/sessions/phien")["viewers"].(float64); v >= 1 {
				break
			}
			if time.Now().After(deadline) {
				w.shot("failed")
				t.Fatalf("the session counts no viewer; the join page says %q", evaluate[string](w, `document.querySelector('#state').textContent`))
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("a pre-session check reports every point", func(t *testing.T) {
		p := page{t: t, log: log, ctx: tab, dir: shots, name: "console"}
		p.do("run a check", chromedp.Click(chromedp.CSS(`a[data-tab=checks]`)), chromedp.Click(chromedp.CSS(`#run-check`)))
		p.waitJS("the report", `document.querySelectorAll('#check-report .check-point[data-point]').length === 2 &&
			document.querySelectorAll('#check-history tbody tr').length === 1`, 45*time.Second)
		p.shot("7-check")
	})

	t.Run("English on demand", func(t *testing.T) {
		p := page{t: t, log: log, ctx: tab, dir: shots, name: "console"}
		p.do("switch to English", chromedp.Click(chromedp.CSS(`header .lang-toggle`)))
		p.waitJS("English words", `document.querySelector('a[data-tab=checks]').textContent === 'Checks' && document.documentElement.lang === 'en'`, 5*time.Second)
		p.do("back to Vietnamese", chromedp.Click(chromedp.CSS(`header .lang-toggle`)))
		p.waitJS("Vietnamese words", `document.querySelector('a[data-tab=checks]').textContent === 'Kiểm tra'`, 5*time.Second)
	})

	p.do("stop the rehearsal", chromedp.Click(chromedp.CSS(`a[data-tab=run]`)), chromedp.Click(chromedp.CSS(`#run-stop`)))
	p.waitJS("the confirmation", `document.querySelector('#confirm').open`, 5*time.Second)
	p.shot("8-confirm-stop")
	p.do("confirm", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
	testkit.Eventually(t, 30*time.Second, "state idle after the rehearsal", func() bool { return api.get(t, "/api/v1/sessions/phien")["state"] == "idle" })
	p.waitJS("the start buttons back", `!!document.querySelector('#run-rehearsal')`, 10*time.Second)

	t.Run("a live run records and its segment plays in the page", func(t *testing.T) {
		p := page{t: t, log: log, ctx: tab, dir: shots, name: "console"}
		p.do("go live", chromedp.Click(chromedp.CSS(`#run-live`)))
		p.waitJS("the live confirmation", `document.querySelector('#confirm').open`, 5*time.Second)
		p.do("confirm live", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
		p.waitJS("REC with a segment", `document.querySelector('.rec.on') && /[1-9]/.test(document.querySelector('.rec dd:nth-of-type(2)').textContent)`, 40*time.Second)
		p.do("wide screen", chromedp.EmulateViewport(1920, 1080))
		p.waitJS("the composite playing", videoAdvances("#composite"), 30*time.Second)
		p.shot("9-live-1920")
		p.do("back to 1366", chromedp.EmulateViewport(1366, 768), chromedp.Click(chromedp.CSS(`#run-stop`)))
		p.waitJS("the stop confirmation", `document.querySelector('#confirm').open`, 5*time.Second)
		p.do("confirm stop", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
		testkit.Eventually(t, 30*time.Second, "state ended", func() bool { return api.get(t, "/api/v1/sessions/phien")["state"] == "ended" })
		p.do("open recordings", chromedp.Click(chromedp.CSS(`a[data-tab=recordings]`)))
		p.waitJS("a sealed, verified run", `(() => { const r = document.querySelector('#runs .run'); return r && r.querySelector('.vs-ok') && r.querySelector('details[open] button'); })()`, 20*time.Second)
		p.do("play a segment", chromedp.Click(chromedp.CSS(`#runs details[open] td.actions button`)))
		p.waitJS("the segment playing", videoAdvances("#player-video"), 20*time.Second)
		p.shot("10-recordings")
	})

	p.do("open the audit log", chromedp.Click(chromedp.CSS(`a[data-tab=audit]`)))
	p.waitJS("audit entries", `document.querySelectorAll('#audit-table tbody tr').length >= 5`, 10*time.Second)
	p.shot("11-audit")

	log.mu.Lock()
	defer log.mu.Unlock()
	for _, u := range log.urls {
		if strings.Contains(u, token) {
			t.Errorf("the operator token is in a URL: %s", u)
		}
	}
	for _, e := range log.errors {
		t.Errorf("script error: %s", e)
	}
	t.Logf("%d requests, screenshots in %s", len(log.urls), shots)
}
