package whep

import (
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"diemcau/ingest"
	"diemcau/internal/lossyudp"
	"diemcau/internal/testkit"
)

// TestPusher: a Pusher publishes a stream to the WHIP endpoint (H.264 and
// Opus arrive at the whip:// source at the stream's rate); when the server
// ends the connection and refuses the credential, it reports why and keeps
// trying; once the credential works again it is back within its back-off.
func TestPusher(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{})
	src := startWHIPSources(t, ts, "xa-a")["xa-a"]
	stream := feedStream(t, "program", clip, false)

	if _, err := NewPusher(PusherConfig{Name: "bad", URL: "ftp://hub", Stream: stream}, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("an ftp:// URL was accepted")
	}
	p, err := NewPusher(PusherConfig{Name: "hub", URL: ts.http.URL + "/whip/ingest/xa-a", Token: pointInvite, Stream: stream}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "pusher", p.Run)

	waitState(t, src, ingest.StateOnline, 15*time.Second)
	fc := countFrames(src.Stream())
	const window = 2 * time.Second
	time.Sleep(window)
	fc.stop()
	video, audio := fc.video.Load(), fc.audio.Load()
	t.Logf("in %v: %d pictures, %d audio frames; pusher %+v", window, video, audio, p.Status())
	if want := uint64(window.Seconds() * float64(clip.fps) * 0.8); video < want {
		t.Errorf("%d pictures in %v, want at least %d", video, window, want)
	}
	if want := uint64(window.Seconds() * 50 * 0.8); audio < want {
		t.Errorf("%d audio frames in %v, want at least %d", audio, window, want)
	}
	if st := p.Status(); st.State != "online" || st.Connects != 1 {
		t.Errorf("status %+v, want online after one connect", st)
	}

	// The hub revokes the invite: the connection ends, and reconnecting is
	// refused with the hub's reason.
	if n := ts.srv.EndInvite("inv-p"); n != 1 {
		t.Fatalf("EndInvite ended %d connections, want 1", n)
	}
	waitState(t, src, ingest.StateOffline, 3*time.Second)
	testkit.Eventually(t, 10*time.Second, "the refusal in the pusher's status", func() bool {
		st := p.Status()
		return st.State == "offline" && strings.Contains(st.Error, "40")
	})
	t.Logf("refused: %s", p.Status().Error)

	// The right comes back (a new invite, here the same one): online again.
	ts.srv.mu.Lock()
	delete(ts.srv.revoked, "inv-p")
	ts.srv.mu.Unlock()
	start := time.Now()
	waitState(t, src, ingest.StateOnline, 15*time.Second)
	t.Logf("back online %v after the credential worked again", time.Since(start).Round(10*time.Millisecond))
	testkit.Eventually(t, 5*time.Second, "the pusher online", func() bool { return p.Status().State == "online" })
	if st := p.Status(); st.Connects != 2 {
		t.Errorf("connects %d, want 2", st.Connects)
	}
}

// TestPusherNoticesSilence: a server that goes silent without a word (a
// crash, a pulled cable; here the UDP relay between them closes) is found
// lost by the pusher's consent checks after pushSilence, and the pusher
// goes offline to reconnect, instead of waiting pion's default 5 s of
// silence (then 25 s to "failed").
func TestPusherNoticesSilence(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{DisableTCP: true}) // UDP only: every packet crosses the relay
	src := startWHIPSources(t, ts, "xa-a")["xa-a"]
	media := ts.srv.UDPAddrs()[0].String()
	relay, err := lossyudp.Start(media, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := startPusherOnline(t, ts, src, clip, viaRelay{media: media, relay: relay.Addr()})

	relay.Close()
	silent := time.Now()
	testkit.Eventually(t, 15*time.Second, "the pusher offline", func() bool { return p.Status().State != "online" })
	took := time.Since(silent)
	t.Logf("offline %v after the path went silent (%v of silence, a consent check every %v)", took.Round(10*time.Millisecond), pushSilence, pushKeepalive)
	// pion's default would take 5 s at least; a busy machine adds its
	// scheduling to pushSilence, not seconds.
	if took >= 5*time.Second {
		t.Errorf("the silent server found lost after %v, want about %v", took, pushSilence)
	}
}

// TestPusherReconnectsBesideItsDelete: the server ends the connection and
// then holds the DELETE of the old resource unanswered (LiveKit, restarted,
// does not know it): the pusher connects again after its back-off, without
// waiting for the DELETE, and the DELETE still goes.
func TestPusherReconnectsBesideItsDelete(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{})
	src := startWHIPSources(t, ts, "xa-a")["xa-a"]
	held := &holdDeletes{}
	p := startPusherOnline(t, ts, src, clip, held)

	// The server ends the connection (here by revoking the invite, which
	// is given back at once).
	ended := time.Now()
	if n := ts.srv.EndInvite("inv-p"); n != 1 {
		t.Fatalf("EndInvite ended %d connections, want 1", n)
	}
	ts.srv.mu.Lock()
	delete(ts.srv.revoked, "inv-p")
	ts.srv.mu.Unlock()
	testkit.Eventually(t, 10*time.Second, "the pusher online again", func() bool { return p.Status().Connects == 2 && p.Status().State == "online" })
	took := time.Since(ended)
	t.Logf("online again %v after the server ended the connection, %d DELETE held", took.Round(10*time.Millisecond), held.n.Load())
	if held.n.Load() != 1 {
		t.Errorf("%d DELETEs sent, want the old resource's", held.n.Load())
	}
	// Waiting for the held DELETE would take its 2 s, then the back-off.
	if took >= 2*time.Second {
		t.Errorf("online again %v after the connection ended: the reconnect waited for the DELETE", took)
	}
}

// holdDeletes is an HTTP transport that holds every DELETE until its
// request gives up, and passes the rest.
type holdDeletes struct{ n atomic.Int32 }

func (h *holdDeletes) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodDelete {
		return http.DefaultTransport.RoundTrip(req)
	}
	h.n.Add(1)
	<-req.Context().Done()
	return nil, req.Context().Err()
}

// startPusherOnline runs a Pusher of clip to ts's whip:// source xa-a
// (src) with the point invite, its HTTP through transport, and waits for
// both ends to be online.
func startPusherOnline(t *testing.T, ts *testServer, src *ingest.WHIPSource, clip *testClip, transport http.RoundTripper) *Pusher {
	t.Helper()
	p, err := NewPusher(PusherConfig{Name: "hub", URL: ts.http.URL + "/whip/ingest/xa-a", Token: pointInvite,
		Stream: feedStream(t, "program", clip, false), Client: &http.Client{Timeout: 10 * time.Second, Transport: transport}},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "pusher", p.Run)
	waitState(t, src, ingest.StateOnline, 15*time.Second)
	testkit.Eventually(t, 5*time.Second, "the pusher online", func() bool { return p.Status().State == "online" })
	return p
}
