package whep

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// feedStream makes a stream of the clip and feeds it until the test ends.
func feedStream(t *testing.T, name string, clip *testClip, reorder bool) *pipeline.Stream {
	t.Helper()
	s := pipeline.NewStream(name, clip.video, clip.audio)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { clip.feed(ctx, s, reorder) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		s.Close()
	})
	return s
}

func TestPassthroughViewerGetsKeyframeAndAudio(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{})
	ts.resolver.sources["cam1"] = feedStream(t, "cam1", clip, false)
	time.Sleep(300 * time.Millisecond) // the stream's GOP cache fills

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	c := ts.watch(ctx, t, "/whep/sources/cam1", testToken, clientOpts{})
	if testing.Verbose() {
		t.Logf("answer:\n%s", c.answer)
	}
	want := fmt.Sprintf("profile-level-id=%02x%02x", clip.sps[1], clip.sps[2])
	if !strings.Contains(c.answer, want) {
		t.Errorf("answer does not carry the stream's profile (%s):\n%s", want, c.answer)
	}
	select {
	case <-c.keyframe:
		t.Logf("keyframe %v after the offer", time.Since(start).Round(time.Millisecond))
	case <-ctx.Done():
		t.Fatalf("no keyframe; %d video and %d audio packets", c.video.Load(), c.audio.Load())
	}
	testkit.Eventually(t, 10*time.Second, "audio packets", func() bool { return c.audio.Load() > 10 })
	if err := c.close(ctx); err != nil {
		t.Error(err)
	}
	testkit.Eventually(t, 10*time.Second, "the server to drop the viewer and its stream", func() bool {
		st := ts.srv.Stats()
		return st.Viewers == 0 && st.Streams == 0 && st.Connecting == 0
	})
}

func TestCompositeViewerRequestsKeyframe(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{})
	composite := feedStream(t, "demo", clip, false)
	var requests sync.WaitGroup
	requests.Add(1)
	var once sync.Once
	composite.SetKeyframeRequester(func() { once.Do(requests.Done) })
	ts.resolver.sessions["demo"] = composite
	ts.resolver.sessions["demo/xa-a"] = feedStream(t, "demo/xa-a", clip, false)
	time.Sleep(300 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, path := range []string{"/whep/sessions/demo", "/whep/sessions/demo/points/xa-a"} {
		start := time.Now()
		// The invite token of session demo is enough here.
		c := ts.watch(ctx, t, path, inviteToken, clientOpts{interceptors: true})
		select {
		case <-c.keyframe:
			t.Logf("%s: keyframe %v after the offer", path, time.Since(start).Round(time.Millisecond))
		case <-ctx.Done():
			t.Fatalf("%s: no keyframe", path)
		}
		if err := c.close(ctx); err != nil {
			t.Error(err)
		}
	}
	done := make(chan struct{})
	go func() { requests.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("a composite viewer joined but no keyframe was requested from the mixer")
	}
}

// TestViewerStartsWithoutCachedKeyframe: with no keyframe in the ring, a
// viewer waits for the next one and never gets a picture it cannot decode.
func TestViewerStartsWithoutCachedKeyframe(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{})
	s := pipeline.NewStream("late", clip.video, clip.audio)
	defer s.Close()
	ts.resolver.sources["late"] = s
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := ts.watch(ctx, t, "/whep/sources/late", testToken, clientOpts{})
	defer c.close(ctx)
	<-c.connected
	// P-frames only: nothing should reach the viewer.
	frame := time.Second / time.Duration(clip.fps)
	for i := 1; i < 10; i++ {
		s.Write(&pipeline.Frame{Track: clip.video, PTS: time.Duration(i) * frame, NALUs: clip.aus[i]})
		time.Sleep(frame)
	}
	if n := c.video.Load(); n != 0 {
		t.Fatalf("viewer got %d video packets before any keyframe", n)
	}
	s.Write(&pipeline.Frame{Track: clip.video, PTS: 10 * frame, Key: true, NALUs: clip.aus[0]})
	select {
	case <-c.keyframe:
	case <-ctx.Done():
		t.Fatal("no keyframe after one was written")
	}
}

func TestFiftyViewers(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s with 50 peer connections")
	}
	clip := loadClip(t, false)
	before := goleak.IgnoreCurrent()
	// All fifty connect at once from loopback: one address's share of the
	// connecting slots would hold most of them back (TestConnectingPerAddress).
	ts := startServer(t, Config{MaxConnectingPerIP: -1})
	s := pipeline.NewStream("cam1", clip.video, clip.audio)
	feedCtx, stopFeed := context.WithCancel(context.Background())
	var feeder sync.WaitGroup
	feeder.Go(func() { clip.feed(feedCtx, s, false) })
	defer func() { stopFeed(); feeder.Wait() }()
	ts.resolver.sources["cam1"] = s
	time.Sleep(300 * time.Millisecond)

	const n = 50
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	clients := make([]*whepClient, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range clients {
		wg.Go(func() {
			c, err := dial(ctx, ts.http.URL, "/whep/sources/cam1", testToken, clientOpts{interceptors: i%2 == 0})
			if err != nil {
				errs <- fmt.Errorf("viewer %d: %w", i, err)
				return
			}
			clients[i] = c
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.stopReaders()
			}
		}
	}()
	if t.Failed() {
		return
	}
	testkit.Eventually(t, 30*time.Second, "all viewers connected", func() bool { return ts.srv.Stats().Viewers == n && ts.srv.Stats().Connecting == 0 })
	time.Sleep(10 * time.Second)
	// Every viewer gets what the server sent it, give or take what is in
	// flight: no count of packets per second, which a busy machine would
	// break.
	perViewer := ts.srv.Stats().Sends / n
	for i, c := range clients {
		select {
		case <-c.keyframe:
		default:
			t.Errorf("viewer %d: no keyframe", i)
		}
		v, a := c.video.Load(), c.audio.Load()
		if v == 0 || a == 0 || v+a < perViewer/2 {
			t.Errorf("viewer %d: %d video and %d audio packets, of about %d sent to each", i, v, a, perViewer)
		}
	}
	st := ts.srv.Stats()
	t.Logf("stats: %+v", st)
	if st.Syscalls >= st.Datagrams {
		t.Errorf("UDP writes were not batched: %d datagrams in %d sendmmsg calls", st.Datagrams, st.Syscalls)
	}
	for i, c := range clients {
		if err := c.close(ctx); err != nil {
			t.Errorf("viewer %d: %v", i, err)
		}
	}
	testkit.Eventually(t, 20*time.Second, "no viewers, streams or peer connections left", func() bool {
		st := ts.srv.Stats()
		return st.Viewers == 0 && st.Streams == 0 && st.Connecting == 0
	})
	ts.stop()
	stopFeed()
	feeder.Wait()
	s.Close()
	http.DefaultClient.CloseIdleConnections()
	// Every peer connection, on both sides, has let its goroutines go.
	goleak.VerifyNone(t, before)
}

// TestICETCPFallback: a viewer that cannot use UDP connects over ICE-TCP
// on the same port number and plays.
func TestICETCPFallback(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{})
	ts.resolver.sources["cam1"] = feedStream(t, "cam1", clip, false)
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := ts.watch(ctx, t, "/whep/sources/cam1", testToken, clientOpts{tcpOnly: true})
	defer c.close(ctx)
	select {
	case <-c.keyframe:
	case <-ctx.Done():
		t.Fatalf("no keyframe over ICE-TCP (%d video packets)", c.video.Load())
	}
	pair, err := c.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("selected pair: %v", err)
	}
	if pair.Local.Protocol != webrtc.ICEProtocolTCP {
		t.Errorf("connected over %s, want TCP", pair.Local.Protocol)
	}
}

// TestPublicIPsAdvertised: with NAT 1:1 addresses set, the answer offers
// them instead of the local ones.
func TestPublicIPsAdvertised(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{PublicIPs: []string{"203.0.113.7"}})
	ts.resolver.sources["cam1"] = feedStream(t, "cam1", clip, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := post(ctx, ts.http.URL+"/whep/sources/cam1", testToken, "application/sdp", offerSDP(t, true))
	if err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusCreated {
		t.Fatalf("%d %s", res.status, res.body)
	}
	port := ts.srv.UDPAddrs()[0].(*net.UDPAddr).Port
	if want := fmt.Sprintf("203.0.113.7 %d typ host", port); !strings.Contains(res.body, want) {
		t.Errorf("answer lacks %q:\n%s", want, res.body)
	}
	if strings.Contains(res.body, "127.0.0.1") {
		t.Errorf("answer still advertises the local address:\n%s", res.body)
	}
}

// TestStreamEndEndsViewers: when a session stops or a camera is removed,
// its stream closes and its viewers are ended, not left waiting.
func TestStreamEndEndsViewers(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{})
	s := pipeline.NewStream("demo", clip.video, clip.audio)
	ts.resolver.sessions["demo"] = s
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	feedCtx, stop := context.WithCancel(ctx)
	wg.Go(func() { clip.feed(feedCtx, s, false) })
	defer func() { stop(); wg.Wait() }()
	c := ts.watch(ctx, t, "/whep/sessions/demo", testToken, clientOpts{})
	defer c.stopReaders()
	<-c.keyframe
	s.Close()
	testkit.Eventually(t, 10*time.Second, "viewers and broadcaster of the closed stream to go", func() bool {
		st := ts.srv.Stats()
		return st.Viewers == 0 && st.Streams == 0
	})
}
