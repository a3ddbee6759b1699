package console

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"diemcau/internal/chrometest"
	"diemcau/internal/proctest"
)

// TestConsoleSoundMeters runs the real server with two camsim cameras, one
// sending a tone and one sending pictures only, in a session that starts as
// a rehearsal: in headless Chromium the toned point's meter reads the tone
// and is refreshed several times a second, the other shows "no sound" and,
// once its 10 s are up, the silent alert on its card and in the banner; the
// pre-session check warns about it; muting it ends the alert.
func TestConsoleSoundMeters(t *testing.T) {
	browser := chrometest.Path(t)
	shots := artefacts(t)
	dir := t.TempDir()
	bin, err := proctest.BuildDiemcau(dir)
	if err != nil {
		t.Fatal(err)
	}
	toned, quiet, rtspPort, httpPort := proctest.FreePortPair(t), proctest.FreePortPair(t), proctest.FreePortPair(t), proctest.FreePortPair(t)
	cam := func(port int, audio ...string) {
		args := append([]string{"camsim", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--cameras", "1",
			"--size", "320x180", "--fps", "15", "--bitrate", "300"}, audio...)
		proctest.Start(t, bin, args...)
	}
	cam(toned, "--audio")
	cam(quiet)
	cfg := fmt.Sprintf(`
http: {listen: "127.0.0.1:%d"}
rtsp: {listen: "127.0.0.1:%d"}
webrtc: {udp_port: 0}
archive: {root: %q, min_free: 0}
store: %q
sources:
  - {id: cam1, name: "Camera tỉnh", url: "rtsp://127.0.0.1:%d/cam1", transport: tcp}
  - {id: cam2, name: "Camera xã A", url: "rtsp://127.0.0.1:%d/cam1", transport: tcp}
sessions:
  - id: phien
    title: "Tiếp công dân"
    start: rehearsal
    layout: grid
    output: {width: 320, height: 180, fps: 15, bitrate: 400}
    points:
      - {id: tinh, source: cam1, role: province, label: "UBND Tỉnh"}
      - {id: xa-a, source: cam2, role: local, label: "UBND xã A"}
`, httpPort, rtspPort, filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"), toned, quiet)
	base, token := serve(t, bin, dir, cfg, httpPort)
	api := apiClient{base: base, token: token}

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	p := openConsole(t, ctx, browser, shots, "meters", base)
	log := p.log
	p.do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS(`#signin-form button[type=submit]`)),
		chromedp.Click(chromedp.CSS(`a[data-tab=run]`)))
	p.waitJS("the toned point's meter on its tone", `(() => {
  const m = document.querySelector('.point[data-point=tinh] .meter meter');
  return m && m.value > -30 && m.value < -3 && /dBFS/.test(document.querySelector('.point[data-point=tinh] .meter-text').textContent);
})()`, 45*time.Second)
	p.waitJS("the quiet point's meter saying so", `document.querySelector('.point[data-point=xa-a] .meter-text').textContent === 'Không có tiếng' &&
		document.querySelector('.point[data-point=xa-a] .meter meter').value === -60`, 10*time.Second)

	// The meters follow their own poll, several times a second.
	count := func() int {
		log.mu.Lock()
		defer log.mu.Unlock()
		n := 0
		for _, u := range log.urls {
			if strings.HasSuffix(u, "/api/v1/sessions/phien/levels") {
				n++
			}
		}
		return n
	}
	before := count()
	time.Sleep(2 * time.Second)
	if n := count() - before; n < 5 {
		t.Errorf("%d level polls in 2 s, want about 8", n)
	}

	p.waitJS("the silent alert on the quiet point's card", `(() => {
  const c = document.querySelector('.point[data-point=xa-a]');
  return c.classList.contains('silent') && /KHÔNG CÓ TIẾNG/.test(c.querySelector('.silent-alert').textContent);
})()`, 30*time.Second)
	p.waitJS("the alert in the banner", `/UBND xã A.*KHÔNG CÓ TIẾNG/.test(document.querySelector('#alerts').textContent)`, 5*time.Second)
	if evaluate[bool](p, `!!document.querySelector('.point[data-point=tinh] .silent-alert') || document.querySelector('.point[data-point=tinh]').classList.contains('silent')`) {
		t.Error("the toned point shows the silent alert")
	}
	p.shot("1-silent-point")

	sess := api.get(t, "/api/v1/sessions/phien")
	pts, _ := sess["points"].([]any)
	if len(pts) != 2 {
		t.Fatalf("points %v", sess["points"])
	}
	tinh, xa := pts[0].(map[string]any), pts[1].(map[string]any)
	if lvl, _ := tinh["level"].(map[string]any); lvl == nil || tinh["silent"] != false {
		t.Errorf("status of tinh: %v", tinh)
	}
	if _, has := xa["level"]; has || xa["silent"] != true {
		t.Errorf("status of xa-a: %v", xa)
	}

	t.Run("the check warns about the silent point", func(t *testing.T) {
		req, _ := http.NewRequest("POST", base+"/api/v1/sessions/phien/checks", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		list, _ := api.get(t, "/api/v1/sessions/phien/checks")["checks"].([]any)
		if len(list) == 0 {
			t.Fatalf("no check report (status %d)", res.StatusCode)
		}
		rep := list[len(list)-1].(map[string]any)
		for _, pc := range rep["points"].([]any) {
			pc := pc.(map[string]any)
			reasons := fmt.Sprint(pc["reasons"])
			silent := strings.Contains(reasons, "no sound for")
			if (pc["point_id"] == "xa-a") != silent {
				t.Errorf("point %v: %v %s", pc["point_id"], pc["verdict"], reasons)
			}
			if silent && pc["verdict"] != "warn" && pc["verdict"] != "fail" {
				t.Errorf("point %v: verdict %v with %s", pc["point_id"], pc["verdict"], reasons)
			}
		}
	})

	p.do("mute the quiet point", chromedp.Click(chromedp.CSS(`.point[data-point=xa-a] [data-key=mute-xa-a]`)))
	p.waitJS("the alert gone", `!document.querySelector('.point[data-point=xa-a]').classList.contains('silent') &&
		!/KHÔNG CÓ TIẾNG/.test(document.querySelector('#alerts').textContent)`, 15*time.Second)
	p.shot("2-muted")

	p.do("switch to English", chromedp.Click(chromedp.CSS(`header .lang-toggle`)))
	p.waitJS("the meter in English", `document.querySelector('.point[data-point=xa-a] .meter-text').textContent === 'No sound' &&
		document.querySelector('.point[data-point=tinh] .meter meter').getAttribute('aria-label') === 'Sound level of UBND Tỉnh'`, 5*time.Second)
	for _, e := range log.scriptErrors() {
		t.Errorf("script error: %s", e)
	}
}
