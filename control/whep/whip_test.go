package whep

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"diemcau/bench/whipclient"
	"diemcau/ingest"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

const (
	publishSecret = "publish-secret"
	pointInvite   = "point-invite"
	viewerInvite  = "viewer-invite"
)

// testPublishAuth: the publish secret and the point invite publish into
// whip:// sources; "cam" is a camera (not whip); a viewer's invite is
// refused.
func testPublishAuth(r *http.Request, source string) (Grant, error) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case tok == "":
		return Grant{}, &Refusal{Status: http.StatusUnauthorized, Message: "no token"}
	case source == "cam":
		return Grant{}, &Refusal{Status: http.StatusBadRequest, Message: `source "cam": not a whip:// source`}
	case tok == publishSecret:
		return Grant{Who: "publish secret"}, nil
	case tok == pointInvite:
		return Grant{Who: "invite inv-p", Invite: "inv-p", Session: "demo"}, nil
	case tok == viewerInvite:
		return Grant{}, &Refusal{Status: http.StatusForbidden, Message: "a viewer's invite"}
	}
	return Grant{}, &Refusal{Status: http.StatusUnauthorized, Message: "unknown token"}
}

// whipSources runs whip:// sources for a test.
func startWHIPSources(t *testing.T, ts *testServer, ids ...string) map[string]*ingest.WHIPSource {
	t.Helper()
	srcs := map[string]*ingest.WHIPSource{}
	for _, id := range ids {
		src, err := ingest.NewWHIPSource(ingest.WHIPConfig{ID: id, URL: "whip://"}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		srcs[id] = src
		testkit.Start(t, "whip source "+id, src.Run)
	}
	ts.srv.EnableWHIP(func(id string) (*ingest.WHIPSource, bool) { s, ok := srcs[id]; return s, ok }, testPublishAuth)
	return srcs
}

// frameCounter counts what reaches a source's stream.
type frameCounter struct {
	video, audio atomic.Uint64
	stop         func()
}

func countFrames(s *pipeline.Stream) *frameCounter {
	fc := &frameCounter{}
	r := s.NewReader(pipeline.ReaderConfig{Name: "test", Queue: 1024})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			f, err := r.Read(ctx)
			if err != nil {
				return
			}
			if f.Track != nil && f.Track.Kind() == pipeline.Video {
				fc.video.Add(1)
			} else {
				fc.audio.Add(1)
			}
		}
	})
	fc.stop = func() { cancel(); wg.Wait(); r.Close() }
	return fc
}

func waitState(t *testing.T, src *ingest.WHIPSource, want ingest.State, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	testkit.Eventually(t, d, "source "+string(want), func() bool { return src.Status().State == want })
	return time.Since(start)
}

// TestWHIPPublish: a pion publisher sends H.264 and Opus; the source goes
// online with frames at the clip's rate, offline at once on DELETE, and
// online again on republish.
func TestWHIPPublish(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{})
	srcs := startWHIPSources(t, ts, "xa-a")
	src := srcs["xa-a"]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	c, err := publish(ctx, clip, ts.http.URL, "/whip/ingest/xa-a", publishSecret, whipclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Resource, "/whip/resources/") || !strings.Contains(c.Answer, "H264") {
		t.Fatalf("answer: Location %q\n%s", c.Resource, c.Answer)
	}
	waitState(t, src, ingest.StateOnline, 10*time.Second)
	fc := countFrames(src.Stream())
	const window = 2 * time.Second
	time.Sleep(window)
	fc.stop()
	video, audio := fc.video.Load(), fc.audio.Load()
	t.Logf("in %v: %d pictures, %d audio frames; status %+v", window, video, audio, *src.Status().Net)
	if want := uint64(window.Seconds() * float64(clip.fps) * 0.8); video < want {
		t.Errorf("%d pictures in %v, want at least %d", video, window, want)
	}
	if want := uint64(window.Seconds() * 50 * 0.8); audio < want {
		t.Errorf("%d audio frames in %v, want at least %d", audio, window, want)
	}
	if st := src.Status(); st.Video == nil || st.Video.Codec != "h264" || st.Audio == nil || st.Audio.Codec != "opus" {
		t.Errorf("status video %+v audio %+v", st.Video, st.Audio)
	}
	if c.PLIs() == 0 {
		t.Error("no keyframe request at publish start")
	}

	status, err := unpublish(c)
	if err != nil || status != http.StatusOK {
		t.Fatalf("DELETE: %d %v", status, err)
	}
	if d := waitState(t, src, ingest.StateOffline, 2*time.Second); d > time.Second {
		t.Errorf("offline %v after DELETE", d)
	}

	c2, err := publish(ctx, clip, ts.http.URL, "/whip/ingest/xa-a", pointInvite, whipclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, src, ingest.StateOnline, 10*time.Second)
	if st := src.Status(); st.Reconnects != 1 {
		t.Errorf("reconnects %d after republish, want 1", st.Reconnects)
	}
	// A publisher that vanishes (no DELETE, no ICE goodbye) is dropped by
	// its silence within 2 s.
	c2.Vanish()
	if d := waitState(t, src, ingest.StateOffline, 4*time.Second); d > 2500*time.Millisecond {
		t.Errorf("offline %v after the publisher went silent", d)
	}
	_, _ = unpublish(c2)
	testkit.Eventually(t, 10*time.Second, "publishers to be gone", func() bool { return ts.srv.Publishers() == 0 && ts.srv.Stats().Connecting == 0 })
}

// TestWHIPRevoke: revoking the invite that let a publisher in ends it.
func TestWHIPRevoke(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{})
	src := startWHIPSources(t, ts, "xa-a")["xa-a"]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		end  func() int
	}{
		{"invite revoked", func() int { return ts.srv.EndInvite("inv-p") }},
		{"session ended", func() int { return ts.srv.EndSession("demo") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.srv.mu.Lock()
			delete(ts.srv.revoked, "inv-p") // each case publishes with the same invite
			ts.srv.mu.Unlock()
			c, err := publish(ctx, clip, ts.http.URL, "/whip/ingest/xa-a", pointInvite, whipclient.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer unpublish(c)
			waitState(t, src, ingest.StateOnline, 10*time.Second)
			if n := tc.end(); n != 1 {
				t.Errorf("ended %d connections, want 1", n)
			}
			if d := waitState(t, src, ingest.StateOffline, 2*time.Second); d > time.Second {
				t.Errorf("offline %v after the revocation", d)
			}
		})
	}
}

// TestWHIPRefusals: each bad offer gets a clear 4xx and the server goes
// on taking publishers.
func TestWHIPRefusals(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{})
	src := startWHIPSources(t, ts, "xa-a", "xa-b")["xa-a"]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	live, err := publish(ctx, clip, ts.http.URL, "/whip/ingest/xa-a", publishSecret, whipclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer unpublish(live)
	waitState(t, src, ingest.StateOnline, 10*time.Second)
	good := whipOfferSDP(t, false)
	for _, tc := range []struct {
		name, path, token, ctype, body string
		status                         int
		says                           string
	}{
		{"garbage SDP", "/whip/ingest/xa-b", publishSecret, "application/sdp", "hello\x00world", 400, "not an SDP offer"},
		{"empty body", "/whip/ingest/xa-b", publishSecret, "application/sdp", "", 400, "empty body"},
		{"offer without video", "/whip/ingest/xa-b", publishSecret, "application/sdp", whipOfferSDP(t, true), 400, "sends no video"},
		{"VP8 only", "/whip/ingest/xa-b", publishSecret, "application/sdp", vp8Only(good), 415, "takes H.264"},
		{"not a whip source", "/whip/ingest/cam", publishSecret, "application/sdp", good, 400, "not a whip:// source"},
		{"no token", "/whip/ingest/xa-b", "", "application/sdp", good, 401, "no token"},
		{"viewer invite", "/whip/ingest/xa-b", viewerInvite, "application/sdp", good, 403, "viewer"},
		{"wrong content type", "/whip/ingest/xa-b", publishSecret, "text/plain", good, 415, "application/sdp"},
		{"unknown source", "/whip/ingest/nope", publishSecret, "application/sdp", good, 404, "not running"},
		{"second publisher", "/whip/ingest/xa-a", pointInvite, "application/sdp", good, 409, "already has a live publisher"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := post(ctx, ts.http.URL+tc.path, tc.token, tc.ctype, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if res.status != tc.status || !strings.Contains(res.body, tc.says) {
				t.Fatalf("%d %s, want %d saying %q", res.status, res.body, tc.status, tc.says)
			}
			if strings.Contains(res.body, publishSecret) {
				t.Fatalf("the answer shows the secret: %s", res.body)
			}
		})
	}
	if st := src.Status(); st.State != ingest.StateOnline {
		t.Fatalf("the live publisher's source is %s after the refusals", st.State)
	}
	// The server still takes a good publisher.
	c, err := publish(ctx, clip, ts.http.URL, "/whip/ingest/xa-b", publishSecret, whipclient.Options{})
	if err != nil {
		t.Fatalf("a good publisher after the refusals: %v", err)
	}
	_, _ = unpublish(c)
}

// TestWHIPFlood: offers beyond the connecting caps are refused with 429
// (the WHEP caps), and the server takes a publisher afterwards.
func TestWHIPFlood(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{MaxConnecting: 4, MaxConnectingPerIP: 4})
	ids := []string{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11"}
	startWHIPSources(t, ts, append(ids, "after")...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	offer := whipOfferSDP(t, false)
	var wg sync.WaitGroup
	var created, refused atomic.Int32
	for _, id := range ids {
		wg.Go(func() {
			res, err := post(ctx, ts.http.URL+"/whip/ingest/"+id, publishSecret, "application/sdp", offer)
			switch {
			case err != nil:
				t.Error(err)
			case res.status == http.StatusCreated:
				created.Add(1)
			case res.status == http.StatusTooManyRequests:
				refused.Add(1)
			default:
				t.Errorf("%s: %d %s", id, res.status, res.body)
			}
		})
	}
	wg.Wait()
	t.Logf("%d answered, %d refused", created.Load(), refused.Load())
	if created.Load() > 4 || refused.Load() == 0 {
		t.Errorf("%d answered and %d refused of %d, want at most 4 answered", created.Load(), refused.Load(), len(ids))
	}
	// The offers that never connect are reaped; the server goes on.
	for _, rid := range ts.srv.publisherIDs() {
		ts.srv.lookupPublisher(rid).close("test")
	}
	testkit.Eventually(t, 10*time.Second, "flood reaped", func() bool { return ts.srv.Publishers() == 0 })
	c, err := publish(ctx, clip, ts.http.URL, "/whip/ingest/after", publishSecret, whipclient.Options{})
	if err != nil {
		t.Fatalf("a publisher after the flood: %v", err)
	}
	_, _ = unpublish(c)
}

// TestWHIPLossy: through a relay that loses 5 % of the packets and
// delays each by up to 50 ms, the source stays online, NACKs bring most
// packets back and the pictures keep coming.
func TestWHIPLossy(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of real-time media")
	}
	clip := loadClip(t, false)
	ts := startServer(t, Config{})
	src := startWHIPSources(t, ts, "xa-a")["xa-a"]
	relay, err := whipclient.NewRelay(ts.srv.UDPAddrs()[0].(*net.UDPAddr), 0.05, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := publish(ctx, clip, ts.http.URL, "/whip/ingest/xa-a", publishSecret, whipclient.Options{Relay: relay})
	if err != nil {
		t.Fatal(err)
	}
	defer unpublish(c)
	waitState(t, src, ingest.StateOnline, 15*time.Second)
	fc := countFrames(src.Stream())
	const window = 4 * time.Second
	deadline := time.Now().Add(window)
	for time.Now().Before(deadline) {
		if st := src.Status(); st.State != ingest.StateOnline {
			t.Fatalf("source went %s (%s) under 5 %% loss", st.State, st.Error)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fc.stop()
	net := *src.Status().Net
	kept := float64(fc.video.Load()) / (window.Seconds() * float64(clip.fps))
	t.Logf("path %s; relay %s, server %s", c.Path(), relay.Addr(), ts.srv.UDPAddrs()[0])
	t.Logf("relay dropped %d, passed %d; pictures kept %.0f %%, audio frames %d; publisher saw %d NACKs, %d PLIs; status %+v",
		relay.Dropped(), relay.Passed(), 100*kept, fc.audio.Load(), c.NACKs(), c.PLIs(), net)
	if net.NACKsSent == 0 || c.NACKs() == 0 {
		t.Error("no NACKs under 5 % loss")
	}
	if kept < 0.7 {
		t.Errorf("%.0f %% of the pictures kept under 5 %% loss with NACK, want at least 70 %%", 100*kept)
	}
}

// offerSDP is a publisher's offer from pion: H.264 (and VP8, VP9 …) with
// Opus, or audio only.
func whipOfferSDP(t *testing.T, audioOnly bool) string {
	t.Helper()
	api, err := clientAPI(clientOpts{})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	kinds := []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio}
	if audioOnly {
		kinds = kinds[1:]
	}
	for _, k := range kinds {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc.LocalDescription().SDP
}

// vp8Only takes every video codec but VP8 out of an offer.
func vp8Only(sdp string) string {
	var out []string
	for _, l := range strings.Split(sdp, "\r\n") {
		if strings.HasPrefix(l, "a=rtpmap:") && (strings.Contains(l, "H264") || strings.Contains(l, "VP9") || strings.Contains(l, "AV1") || strings.Contains(l, "H265")) {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\r\n")
}

func (s *Server) publisherIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.whip.publishers {
		out = append(out, id)
	}
	return out
}
