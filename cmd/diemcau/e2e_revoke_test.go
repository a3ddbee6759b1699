package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"diemcau/bench/whepclient"
	"diemcau/internal/proctest"
	"diemcau/internal/testkit"
)

// revokeGrace is how long a viewer or reader may outlive its right
// (docs/api.md: ended within 2 s).
const revokeGrace = 2 * time.Second

// watcher is one connection under test: a WHEP viewer or an RTSP reader,
// with the time of its last packet and, for RTSP, of its disconnection.
type watcher struct {
	name    string
	packets atomic.Int64
	last    atomic.Int64 // unix nanos of the last packet
	closed  chan struct{}
	stop    func()
}

func (w *watcher) packet() {
	w.packets.Add(1)
	w.last.Store(time.Now().UnixNano())
}

// endedWithin waits until w's packets stop (nothing for 500 ms) and checks
// that the last came no later than grace after start.
func (w *watcher) endedWithin(t *testing.T, start time.Time, grace time.Duration) {
	t.Helper()
	deadline := start.Add(grace + 5*time.Second)
	for time.Now().Before(deadline) {
		last := time.Unix(0, w.last.Load())
		if time.Since(last) > 500*time.Millisecond {
			if d := last.Sub(start); d > grace {
				t.Errorf("%s: last packet %v after the right ended, want ≤ %v", w.name, d, grace)
			} else {
				t.Logf("%s: last packet %v after the right ended", w.name, d.Round(time.Millisecond))
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("%s: still receiving %v after the right ended", w.name, grace+5*time.Second)
}

func (w *watcher) flowing(t *testing.T) {
	t.Helper()
	before := w.packets.Load()
	testkit.Eventually(t, 10*time.Second, w.name+" still receiving", func() bool { return w.packets.Load() > before+20 })
}

func watchWHEP(t *testing.T, base, path, token, name string) *watcher {
	t.Helper()
	api, err := whepclient.NewAPI()
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{name: name, closed: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := whepclient.Dial(ctx, api, base, path, token, func(tr *webrtc.TrackRemote) {
		whepclient.EachPacket(tr, func([]byte) { w.packet() })
	})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var once sync.Once
	w.stop = func() { once.Do(v.Close) }
	t.Cleanup(w.stop)
	testkit.Eventually(t, 30*time.Second, name+" receiving", func() bool { return w.packets.Load() > 20 })
	return w
}

func watchRTSP(t *testing.T, raw, name string) *watcher {
	t.Helper()
	w := &watcher{name: name, closed: make(chan struct{})}
	err := readRTSP(raw, func(c *gortsplib.Client) {
		c.OnPacketRTPAny(func(*description.Media, format.Format, *rtp.Packet) { w.packet() })
		go func() { _ = c.Wait(); close(w.closed) }()
		w.stop = c.Close
	})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(w.stop)
	testkit.Eventually(t, 30*time.Second, name+" receiving", func() bool { return w.packets.Load() > 20 })
	return w
}

// readRTSP plays raw over TCP; ready sees the client before PLAY.
func readRTSP(raw string, ready func(*gortsplib.Client)) error {
	u, err := base.ParseURL(raw)
	if err != nil {
		return err
	}
	tcp := gortsplib.TransportTCP
	c := &gortsplib.Client{Transport: &tcp}
	if err := c.Start(u.Scheme, u.Host); err != nil {
		return err
	}
	desc, _, err := c.Describe(u)
	if err == nil {
		err = c.SetupAll(desc.BaseURL, desc.Medias)
	}
	if err != nil {
		c.Close()
		return err
	}
	ready(c)
	if _, err := c.Play(nil); err != nil {
		c.Close()
		return err
	}
	return nil
}

// TestRevocationEndsConnections: on the real server, viewers and readers
// an invite let in are ended within 2 s of DELETE of the invite and of the
// session's stop, while an operator's viewer and reader of another
// session carry on; readers need a login, and an invite reads only its
// own session.
func TestRevocationEndsConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts processes")
	}
	dir := t.TempDir()
	camPort, rtspPort, httpPort := proctest.FreePortPair(t), proctest.FreePortPair(t), proctest.FreePort(t)
	proctest.Start(t, binary, "camsim", "--listen", fmt.Sprintf("127.0.0.1:%d", camPort), "--cameras", "2",
		"--size", "320x180", "--fps", "15", "--bitrate", "300", "--audio")
	const admin, operator = "revoke-test-admin-token-0123456789", "revoke-test-operator-token-0123456789"
	cfg := fmt.Sprintf(`
http: {listen: "127.0.0.1:%d"}
rtsp: {listen: "127.0.0.1:%d"}
webrtc: {udp_port: 0}
auth:
  tokens:
    - {name: admin, role: admin, sha256: %q}
    - {name: dieu-hanh, role: operator, sha256: %q}
archive: {root: %q, min_free: 0}
store: %q
sources:
  - {id: cam1, url: "rtsp://127.0.0.1:%d/cam1", transport: tcp}
  - {id: cam2, url: "rtsp://127.0.0.1:%d/cam2", transport: tcp}
sessions:
  - {id: phien-a, start: rehearsal, output: {width: 320, height: 180, fps: 15, bitrate: 300}, points: [{id: tinh, source: cam1}]}
  - {id: phien-b, start: rehearsal, output: {width: 320, height: 180, fps: 15, bitrate: 300}, points: [{id: xa-a, source: cam2}]}
`, httpPort, rtspPort, sha256Hex(admin), sha256Hex(operator), filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"), camPort, camPort)
	cfgFile := writeConfigIn(t, dir, cfg)
	srv := proctest.Start(t, binary, "serve", "--config", cfgFile)
	a := api{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), token: admin}
	testkit.Eventually(t, 120*time.Second, "healthz", func() bool {
		res, err := http.Get(a.base + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == 200
	})
	for _, id := range []string{"phien-a", "phien-b"} {
		testkit.Eventually(t, 120*time.Second, id+" composite running", func() bool {
			_, s := a.call("GET", "/api/v1/sessions/"+id, "")
			m, _ := s["mixer"].(map[string]any)
			fps, _ := m["fps"].(float64)
			return fps > 0
		})
	}
	rtspBase := fmt.Sprintf("127.0.0.1:%d", rtspPort)
	invite := func() (id, token string) {
		status, inv := a.call("POST", "/api/v1/sessions/phien-a/invites", `{"name":"Ông C"}`)
		if status != 201 {
			t.Fatalf("invite: %d %v", status, inv)
		}
		return inv["id"].(string), inv["token"].(string)
	}

	// The operator's connections to the other session, which nothing here
	// may disturb.
	opWHEP := watchWHEP(t, a.base, "/whep/sessions/phien-b", operator, "operator WHEP viewer of phien-b")
	opRTSP := watchRTSP(t, "rtsp://dieu-hanh:"+operator+"@"+rtspBase+"/sessions/phien-b", "operator RTSP reader of phien-b")

	iid, tok := invite()
	t.Run("readers need a login, an invite reads only its session", func(t *testing.T) {
		for _, c := range []struct{ url, want string }{
			{"rtsp://" + rtspBase + "/sessions/phien-a", "401"},
			{"rtsp://" + iid + ":" + tok + "@" + rtspBase + "/sessions/phien-b", "403"},
			{"rtsp://" + iid + ":" + tok + "@" + rtspBase + "/sources/cam1", "403"},
		} {
			err := readRTSP(c.url, func(c *gortsplib.Client) { c.Close() })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want %s", strings.ReplaceAll(c.url, tok, "TOKEN"), err, c.want)
			}
		}
	})

	t.Run("DELETE of the invite ends its viewer and reader", func(t *testing.T) {
		v := watchWHEP(t, a.base, "/whep/sessions/phien-a", tok, "invite WHEP viewer")
		r := watchRTSP(t, "rtsp://"+iid+":"+tok+"@"+rtspBase+"/sessions/phien-a", "invite RTSP reader")
		start := time.Now()
		if status, body := a.call("DELETE", "/api/v1/sessions/phien-a/invites/"+iid, ""); status != 204 {
			t.Fatalf("delete invite: %d %v", status, body)
		}
		v.endedWithin(t, start, revokeGrace)
		r.endedWithin(t, start, revokeGrace)
		select {
		case <-r.closed:
		case <-time.After(revokeGrace):
			t.Error("the RTSP reader's connection is still open")
		}
		opWHEP.flowing(t)
		opRTSP.flowing(t)
	})

	t.Run("stopping the session ends its invite's viewer and reader", func(t *testing.T) {
		iid, tok := invite()
		v := watchWHEP(t, a.base, "/whep/sessions/phien-a", tok, "invite WHEP viewer")
		r := watchRTSP(t, "rtsp://"+iid+":"+tok+"@"+rtspBase+"/sessions/phien-a", "invite RTSP reader")
		start := time.Now()
		if status, body := a.call("POST", "/api/v1/sessions/phien-a/stop", ""); status != 200 {
			t.Fatalf("stop: %d %v", status, body)
		}
		v.endedWithin(t, start, revokeGrace)
		r.endedWithin(t, start, revokeGrace)
		testkit.Eventually(t, revokeGrace, "no WHEP viewer of phien-a", func() bool {
			_, s := a.call("GET", "/api/v1/sessions/phien-a", "")
			n, _ := s["viewers"].(float64)
			return n == 0
		})
		opWHEP.flowing(t)
		opRTSP.flowing(t)
	})

	t.Run("refusals are in the metrics, secrets are not in the log", func(t *testing.T) {
		res, err := http.Get(a.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, want := range []string{`diemcau_rtsp_auth_failures_total{kind="read_forbidden"} 2`, `diemcau_rtsp_auth_failures_total{kind="publish_credentials"} 0`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		for _, secret := range []string{admin, operator, tok} {
			if strings.Contains(srv.Output(), secret) {
				t.Errorf("server output holds a secret")
			}
		}
	})
}
