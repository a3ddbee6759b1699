package whep

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

const (
	testToken   = "operator-secret"
	inviteToken = "invite-demo"
)

// testResolver serves streams the test made.
type testResolver struct {
	mu       sync.Mutex
	sources  map[string]*pipeline.Stream
	sessions map[string]*pipeline.Stream // key "id" or "id/point"
	idle     map[string]bool             // sessions that exist but are not running
}

func newTestResolver() *testResolver {
	return &testResolver{sources: map[string]*pipeline.Stream{}, sessions: map[string]*pipeline.Stream{}, idle: map[string]bool{}}
}

func (r *testResolver) Source(id string) (*pipeline.Stream, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sources[id]
	return s, ok
}

func (r *testResolver) Session(id, point string) (*pipeline.Stream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.idle[id] {
		return nil, fmt.Errorf("session %q: %w", id, ErrNotLive)
	}
	key := id
	if point != "" {
		key += "/" + point
	}
	s, ok := r.sessions[key]
	if !ok {
		return nil, fmt.Errorf("session %q point %q: %w", id, point, ErrNotFound)
	}
	return s, nil
}

// testAuth accepts the operator token for anything and the invite token
// for session "demo" only.
func testAuth(r *http.Request, t Target) (Grant, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return Grant{}, false
	}
	switch tok {
	case testToken:
		return Grant{Who: "token test"}, true
	case inviteToken:
		return Grant{Who: "invite inv-demo", Invite: "inv-demo", Session: "demo"}, t.Session == "demo"
	}
	return Grant{}, false
}

type testServer struct {
	srv      *Server
	http     *httptest.Server
	resolver *testResolver
	stop     func()
}

func testLogger(t testing.TB) *slog.Logger { return testkit.Logger(t) }

func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	if cfg.ListenIPs == nil {
		cfg.ListenIPs = []string{"127.0.0.1"}
	}
	res := newTestResolver()
	srv, err := New(cfg, testLogger(t), res, testAuth)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	run := testkit.Start(t, "whep server", srv.Run)
	run.WaitReady(srv.Ready(), 10*time.Second)
	hs := httptest.NewServer(srv.Handler())
	ts := &testServer{srv: srv, http: hs, resolver: res}
	var once sync.Once
	ts.stop = func() {
		once.Do(func() {
			hs.Close()
			if err := run.Stop(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(ts.stop)
	return ts
}

// whepClient is a pion receiver speaking WHEP, as a player would.
type whepClient struct {
	pc       *webrtc.PeerConnection
	resource string
	answer   string
	token    string
	base     string

	video, audio atomic.Uint64
	videoBytes   atomic.Uint64
	keyframe     chan struct{}
	keyOnce      sync.Once
	connected    chan struct{}
	connOnce     sync.Once

	mu      sync.Mutex
	closed  bool
	readers sync.WaitGroup
}

type clientOpts struct {
	noAudio      bool
	interceptors bool // pion's defaults: NACK generator, reports, TWCC
	udpConn      net.PacketConn
	tcpOnly      bool // ICE over TCP only, as behind a firewall that drops UDP
}

func clientAPI(o clientOpts) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if o.interceptors {
		if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
			return nil, err
		}
	}
	se := webrtc.SettingEngine{LoggerFactory: pionLogs{log: slog.New(slog.DiscardHandler)}}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if o.tcpOnly {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	}
	if o.udpConn != nil {
		se.SetICEUDPMux(ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: o.udpConn, Logger: se.LoggerFactory.NewLogger("udpmux")}))
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// makeOffer builds a receive-only offer and waits for its candidates.
func makeOffer(api *webrtc.API, audio bool) (*webrtc.PeerConnection, string, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", err
	}
	kinds := []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}
	if audio {
		kinds = append(kinds, webrtc.RTPCodecTypeAudio)
	}
	for _, k := range kinds {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			pc.Close()
			return nil, "", err
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		pc.Close()
		return nil, "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		pc.Close()
		return nil, "", err
	}
	<-gathered
	return pc, pc.LocalDescription().SDP, nil
}

type postResult struct {
	status int
	header http.Header
	body   string
}

func post(ctx context.Context, url, token, contentType, body string) (postResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return postResult{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return postResult{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return postResult{status: res.StatusCode, header: res.Header, body: string(b)}, nil
}

// dial offers to a WHEP endpoint and starts receiving.
// watch dials path as a viewer with token, failing t if it cannot.
func (ts *testServer) watch(ctx context.Context, t testing.TB, path, token string, o clientOpts) *whepClient {
	t.Helper()
	c, err := dial(ctx, ts.http.URL, path, token, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// watchKeyframe dials path as the operator and waits for the viewer's
// first keyframe; what says which viewer when it fails.
func watchKeyframe(ctx context.Context, t testing.TB, ts *testServer, path, what string) *whepClient {
	t.Helper()
	c, err := dial(ctx, ts.http.URL, path, testToken, clientOpts{})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	select {
	case <-c.keyframe:
	case <-ctx.Done():
		t.Fatalf("%s: no keyframe", what)
	}
	return c
}

func dial(ctx context.Context, base, path, token string, o clientOpts) (*whepClient, error) {
	api, err := clientAPI(o)
	if err != nil {
		return nil, err
	}
	pc, sdp, err := makeOffer(api, !o.noAudio)
	if err != nil {
		return nil, err
	}
	c := &whepClient{pc: pc, token: token, base: base, keyframe: make(chan struct{}), connected: make(chan struct{})}
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			c.connOnce.Do(func() { close(c.connected) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			return
		}
		c.readers.Add(1)
		go func() {
			defer c.readers.Done()
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				if tr.Kind() == webrtc.RTPCodecTypeAudio {
					c.audio.Add(1)
					continue
				}
				c.video.Add(1)
				c.videoBytes.Add(uint64(len(p.Payload)))
				if startsKeyframe(p.Payload) {
					c.keyOnce.Do(func() { close(c.keyframe) })
				}
			}
		}()
	})
	res, err := post(ctx, base+path, token, "application/sdp", sdp)
	if err != nil {
		c.stopReaders()
		return nil, err
	}
	if res.status != http.StatusCreated {
		c.stopReaders()
		return nil, fmt.Errorf("POST %s: %d %s", path, res.status, res.body)
	}
	c.resource = res.header.Get("Location")
	c.answer = res.body
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: res.body}); err != nil {
		c.stopReaders()
		return nil, fmt.Errorf("set answer: %w", err)
	}
	return c, nil
}

// close ends the viewer the polite way: DELETE, then close the connection.
func (c *whepClient) close(ctx context.Context) error {
	var err error
	if c.resource != "" {
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, c.base+c.resource, nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		var res *http.Response
		if res, err = http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				err = fmt.Errorf("DELETE: %d", res.StatusCode)
			}
		}
	}
	c.stopReaders()
	return err
}

// stopReaders closes the connection and waits for the track readers.
func (c *whepClient) stopReaders() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	_ = c.pc.Close()
	c.readers.Wait()
}

// startsKeyframe reports whether an H.264 RTP payload starts an IDR picture
// or carries its parameter sets (RFC 6184).
func startsKeyframe(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	switch typ := p[0] & 0x1f; typ {
	case 5:
		return true
	case nalFUA:
		return p[1]&0x80 != 0 && p[1]&0x1f == 5
	case 24: // STAP-A
		for b := p[1:]; len(b) > 2; {
			n := int(b[0])<<8 | int(b[1])
			if n == 0 || len(b) < 2+n {
				return false
			}
			if b[2]&0x1f == 5 {
				return true
			}
			b = b[2+n:]
		}
	}
	return false
}

type netListenConfig struct{}

func (netListenConfig) listen() (net.PacketConn, error) {
	return net.ListenPacket("udp4", "127.0.0.1:0")
}
