package whep

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// offerSDP makes a real browser-like offer once (pion), to post by hand.
func offerSDP(t *testing.T, audio bool) string {
	t.Helper()
	api, err := clientAPI(clientOpts{})
	if err != nil {
		t.Fatal(err)
	}
	pc, sdp, err := makeOffer(api, audio)
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()
	return sdp
}

// audioOnly keeps the session part and the audio m-line of an offer.
func audioOnly(sdp string) string {
	sections := strings.Split(sdp, "\r\nm=")
	out := sections[0]
	for _, m := range sections[1:] {
		if strings.HasPrefix(m, "audio") {
			out += "\r\nm=" + m
		}
	}
	return strings.Replace(out, "a=group:BUNDLE 0 1", "a=group:BUNDLE 1", 1)
}

func TestBadRequestsGetClearErrors(t *testing.T) {
	clip := loadClip(t, false)
	bclip := loadClip(t, true)
	ts := startServer(t, Config{})
	ts.resolver.sources["cam1"] = feedStream(t, "cam1", clip, false)
	ts.resolver.sources["hevc"] = pipeline.NewStream("hevc", &pipeline.Track{Codec: pipeline.H265, VPS: []byte{0x40, 1}, SPS: []byte{0x42, 1, 1, 1}, PPS: []byte{0x44, 1}})
	ts.resolver.sources["aac"] = pipeline.NewStream("aac", clip.video, &pipeline.Track{Codec: pipeline.AAC, SampleRate: 48000, Channels: 1})
	ts.resolver.sources["bframes"] = pipeline.NewStream("bframes", &pipeline.Track{Codec: pipeline.H264, SPS: bclip.sps, PPS: bclip.pps})
	ts.resolver.sources["empty"] = pipeline.NewStream("empty")
	ts.resolver.idle["later"] = true
	offer := offerSDP(t, true)
	videoOnly := offerSDP(t, false)

	cases := []struct {
		name, path, token, ctype, body string
		status                         int
		code, mention                  string
	}{
		{"no token", "/whep/sources/cam1", "", "application/sdp", offer, 401, "unauthorized", "token"},
		{"wrong token", "/whep/sources/cam1", "nope", "application/sdp", offer, 401, "unauthorized", "token"},
		{"invite of another session", "/whep/sessions/other", inviteToken, "application/sdp", offer, 401, "unauthorized", "token"},
		{"invite may not watch a source", "/whep/sources/cam1", inviteToken, "application/sdp", offer, 401, "unauthorized", "token"},
		{"not SDP content type", "/whep/sources/cam1", testToken, "application/json", offer, 415, "bad_content_type", "application/sdp"},
		{"empty body", "/whep/sources/cam1", testToken, "application/sdp", "", 400, "bad_sdp", "empty"},
		{"garbage SDP", "/whep/sources/cam1", testToken, "application/sdp", "hello, is this WHEP?", 400, "bad_sdp", "SDP"},
		{"no video m-line", "/whep/sources/cam1", testToken, "application/sdp", audioOnly(offer), 400, "no_video", "video"},
		{"oversized offer", "/whep/sources/cam1", testToken, "application/sdp", offer + strings.Repeat("a=x:y\r\n", 20000), 413, "too_large", "KiB"},
		{"unknown source", "/whep/sources/nope", testToken, "application/sdp", offer, 404, "not_found", `"nope"`},
		{"unknown session", "/whep/sessions/nope", testToken, "application/sdp", offer, 404, "not_found", "nope"},
		{"unknown point", "/whep/sessions/later2/points/x", testToken, "application/sdp", offer, 404, "not_found", "x"},
		{"session not running", "/whep/sessions/later", testToken, "application/sdp", offer, 409, "not_live", "not running"},
		{"H.265 feed", "/whep/sources/hevc", testToken, "application/sdp", offer, 422, "unplayable", "H.265"},
		{"AAC audio", "/whep/sources/aac", testToken, "application/sdp", offer, 422, "unplayable", "AAC"},
		{"B-frames in the SPS", "/whep/sources/bframes", testToken, "application/sdp", offer, 422, "unplayable", "B-frames"},
		{"no video yet", "/whep/sources/empty", testToken, "application/sdp", offer, 503, "no_video", "no video"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := post(ctx, ts.http.URL+tc.path, tc.token, tc.ctype, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if res.status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.status, tc.status, res.body)
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal([]byte(res.body), &e); err != nil {
				t.Fatalf("error body is not the JSON error shape: %q", res.body)
			}
			if e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.mention) {
				t.Errorf("error %+v, want code %q and a message mentioning %q", e.Error, tc.code, tc.mention)
			}
			if res.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Error("no CORS header on the error")
			}
		})
	}
	if st := ts.srv.Stats(); st.Viewers+st.Connecting+st.Streams != 0 {
		t.Errorf("refused offers left state behind: %+v", st)
	}

	// Without an audio m-line, AAC audio does not matter: video plays.
	c, err := dial(ctx, ts.http.URL, "/whep/sources/aac", testToken, clientOpts{noAudio: true})
	if err != nil {
		t.Fatalf("video-only offer to a feed with AAC audio: %v", err)
	}
	c.close(ctx)
	if !strings.Contains(videoOnly, "m=video") {
		t.Fatal("bad test offer")
	}
}

func TestResourceMethods(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{ICEServers: []ICEServer{
		{URLs: []string{"stun:stun.example.net:3478"}},
		{URLs: []string{"turn:turn.example.net:3478?transport=udp"}, Username: "u", Credential: "p"},
	}})
	ts.resolver.sources["cam1"] = feedStream(t, "cam1", clip, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := ts.watch(ctx, t, "/whep/sources/cam1", testToken, clientOpts{})
	defer c.stopReaders()

	do := func(method, path, token string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, method, ts.http.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := do(http.MethodPatch, c.resource, testToken, nil); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PATCH: %d, want 405", res.StatusCode)
	}
	pre := do(http.MethodOptions, "/whep/sources/cam1", "", map[string]string{"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"})
	if pre.StatusCode != http.StatusNoContent || !strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "DELETE") {
		t.Errorf("CORS preflight: %d %v", pre.StatusCode, pre.Header)
	}
	if links := do(http.MethodOptions, "/whep/sources/cam1", "", nil).Header.Values("Link"); len(links) != 0 {
		t.Errorf("ICE servers given without a token: %v", links)
	}
	links := do(http.MethodOptions, "/whep/sources/cam1", testToken, nil).Header.Values("Link")
	if len(links) != 2 || !strings.Contains(links[1], `username="u"; credential="p"`) || !strings.Contains(links[0], `rel="ice-server"`) {
		t.Errorf("ICE server links: %q", links)
	}
	if res := do(http.MethodDelete, c.resource, "nope", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("DELETE with a wrong token: %d, want 401", res.StatusCode)
	}
	if res := do(http.MethodDelete, c.resource, testToken, nil); res.StatusCode != http.StatusOK {
		t.Errorf("DELETE: %d, want 200", res.StatusCode)
	}
	testkit.Eventually(t, 10*time.Second, "the viewer to go", func() bool { return ts.srv.Stats().Viewers == 0 })
	if res := do(http.MethodDelete, c.resource, testToken, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("second DELETE: %d, want 404", res.StatusCode)
	}
}

// TestFloodOfOffers: offers that never connect are capped and reaped, and
// the server keeps serving real viewers.
func TestFloodOfOffers(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{MaxConnecting: 8, ConnectTimeout: 2 * time.Second})
	ts.resolver.sources["cam1"] = feedStream(t, "cam1", clip, false)
	offer := offerSDP(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			res, err := post(ctx, ts.http.URL+"/whep/sources/cam1", testToken, "application/sdp", offer)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				counts[-1]++
				return
			}
			counts[res.status]++
			if res.status == http.StatusTooManyRequests && res.header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})
	}
	wg.Wait()
	t.Logf("answers: %v", counts)
	if counts[http.StatusCreated] == 0 || counts[http.StatusTooManyRequests] == 0 || counts[http.StatusCreated]+counts[http.StatusTooManyRequests] != 60 {
		t.Errorf("want only 201 and 429, some of each: %v", counts)
	}
	if n := ts.srv.Stats().Connecting; n > 8 {
		t.Errorf("%d viewers connecting, over the cap of 8", n)
	}
	testkit.Eventually(t, 15*time.Second, "offers that never connected to be reaped", func() bool {
		st := ts.srv.Stats()
		return st.Viewers == 0 && st.Connecting == 0 && st.Streams == 0
	})
	c := watchKeyframe(ctx, t, ts, "/whep/sources/cam1", "after the flood")
	c.close(ctx)
}

// TestSilentViewerIsReaped: a viewer whose network vanishes without DELETE
// (no DTLS close either) is removed once ICE gives up.
func TestSilentViewerIsReaped(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{DisconnectTimeout: 3 * time.Second})
	ts.resolver.sources["cam1"] = feedStream(t, "cam1", clip, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := (&netListenConfig{}).listen()
	if err != nil {
		t.Fatal(err)
	}
	c := ts.watch(ctx, t, "/whep/sources/cam1", testToken, clientOpts{udpConn: conn})
	defer c.stopReaders()
	<-c.connected
	testkit.Eventually(t, 10*time.Second, "media", func() bool { return c.video.Load() > 0 })
	conn.Close() // the network goes: nothing more leaves or arrives
	start := time.Now()
	testkit.Eventually(t, 30*time.Second, "the silent viewer to be reaped", func() bool { return ts.srv.Stats().Viewers == 0 })
	t.Logf("reaped %v after going silent", time.Since(start).Round(100*time.Millisecond))
}

// TestBFramesFoundWhilePlaying: a feed whose SPS does not say it reorders
// but whose frames do is ended for its viewers and refused afterwards.
func TestBFramesFoundWhilePlaying(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{})
	s := pipeline.NewStream("cam1", clip.video, clip.audio)
	ts.resolver.sources["cam1"] = s
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := ts.watch(ctx, t, "/whep/sources/cam1", testToken, clientOpts{})
	defer c.stopReaders()
	<-c.connected
	var wg sync.WaitGroup
	feedCtx, stop := context.WithCancel(ctx)
	wg.Go(func() { clip.feed(feedCtx, s, true) })
	defer func() { stop(); wg.Wait(); s.Close() }()
	testkit.Eventually(t, 10*time.Second, "the viewer to be ended", func() bool { return ts.srv.Stats().Viewers == 0 })
	res, err := post(ctx, ts.http.URL+"/whep/sources/cam1", testToken, "application/sdp", offerSDP(t, true))
	if err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "B-frames") {
		t.Errorf("offer after B-frames were seen: %d %s", res.status, res.body)
	}
}

var _ = webrtc.MimeTypeH264
