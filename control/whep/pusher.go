package whep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"diemcau/ingest/exchange"
	"diemcau/pipeline"
	"diemcau/pipeline/h26x"
)

// Pusher and Puller timing. Retries cap at a second: a point must be back
// within two seconds of its hub answering again, and one small request a
// second to a hub that is down costs nothing.
const (
	pushConnectTimeout = 10 * time.Second
	pushRetryMin       = 500 * time.Millisecond
	pushRetryMax       = time.Second
	// A server that dies without a word (a crash, a pulled cable) sends
	// nothing more: the connection counts as lost after pushSilence
	// without a packet from it (pion's default is 5 s), checked by a
	// consent request whenever it has been quiet for pushKeepalive. A
	// live server answers those, and sends RTCP several times a second.
	pushSilence   = 2 * time.Second
	pushKeepalive = 500 * time.Millisecond
)

// PusherConfig is one stream published to a remote WHIP server: a point
// node's program to its hub, or a session's composite to an SFU that
// serves the viewers one server cannot.
type PusherConfig struct {
	// Name identifies the output in logs and status.
	Name string
	// URL is the WHIP endpoint (https://… or http://…).
	URL string
	// Token is sent as Authorization: Bearer; never logged.
	Token string
	// Stream is what is published: H.264 without B-frames, and Opus.
	Stream *pipeline.Stream
	// ICEServers for the connection (STUN/TURN); none: host candidates.
	ICEServers []webrtc.ICEServer
	// Client does the HTTP exchange; nil: a client with a 10 s timeout.
	Client *http.Client
}

// PusherStatus is what a pusher reports.
type PusherStatus struct {
	State       string    `json:"state"` // connecting, online, offline
	Error       string    `json:"error,omitempty"`
	Since       time.Time `json:"since"`
	Connects    uint64    `json:"connects"`
	FramesSent  uint64    `json:"frames_sent"`
	Keyframes   uint64    `json:"keyframe_requests"`
	LastConnect time.Time `json:"last_connect,omitempty"`
}

// Pusher publishes one stream to a WHIP server and keeps it published:
// it reconnects with back-off when the server or the path goes away, and
// asks the stream for a keyframe when the far end asks (PLI/FIR).
type Pusher struct {
	cfg PusherConfig
	log *slog.Logger
	api *webrtc.API

	mu     sync.Mutex
	status PusherStatus
	link   *linkMeter

	frames, keyframes atomic.Uint64
	// deletes are the DELETEs of ended resources, sent beside the next
	// connect (Run waits for them before it returns).
	deletes sync.WaitGroup
}

// NewPusher checks cfg and makes a pusher; Run publishes.
func NewPusher(cfg PusherConfig, log *slog.Logger) (*Pusher, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("output %q: url: want http(s)://host/…, a WHIP endpoint", cfg.Name)
	}
	if cfg.Stream == nil {
		return nil, fmt.Errorf("output %q: no stream", cfg.Name)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: pushConnectTimeout}
	}
	m := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine:  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}}, PayloadType: 102},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, fmt.Errorf("output %q: %w", cfg.Name, err)
		}
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("output %q: %w", cfg.Name, err)
	}
	ir := &interceptor.Registry{}
	link := newLinkMeter() // first: it sees what the others add (link_meter.go)
	ir.Add(link)
	// NACK answers, sender reports (the far end lines sound up with
	// picture by them) and congestion feedback.
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, fmt.Errorf("output %q: %w", cfg.Name, err)
	}
	var se webrtc.SettingEngine
	se.SetICETimeouts(pushSilence, pushConnectTimeout, pushKeepalive)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	p := &Pusher{cfg: cfg, log: log.With("component", "whip-out", "output", cfg.Name), api: api, link: link}
	p.status = PusherStatus{State: "connecting", Since: time.Now()}
	return p, nil
}

// Status returns the pusher's state and counters.
func (p *Pusher) Status() PusherStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.status
	s.FramesSent, s.Keyframes = p.frames.Load(), p.keyframes.Load()
	return s
}

func (p *Pusher) setState(state string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status.State != state {
		p.status.Since = time.Now()
	}
	p.status.State = state
	p.status.Error = ""
	if err != nil {
		p.status.Error = err.Error()
	}
	if state == "online" {
		p.status.Connects++
		p.status.LastConnect = time.Now()
	}
}

// Run publishes until ctx ends, reconnecting after each failure with a
// back-off from pushRetryMin to pushRetryMax.
func (p *Pusher) Run(ctx context.Context) error {
	defer p.deletes.Wait()
	wait := pushRetryMin
	var failures int
	for {
		started := time.Now()
		err := p.session(ctx)
		if ctx.Err() != nil {
			p.setState("offline", nil)
			return nil
		}
		if time.Since(started) > 10*time.Second {
			wait, failures = pushRetryMin, 0 // it was up: start the back-off again
		}
		failures++
		p.setState("offline", err)
		if failures == 1 || failures%20 == 0 {
			p.log.Warn("output offline", "error", err, "retry_in", wait, "attempts", failures)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, pushRetryMax)
	}
}

// session is one connection: offer, answer, then frames until it fails.
func (p *Pusher) session(ctx context.Context) error {
	if err := p.waitForVideo(ctx); err != nil {
		return err
	}
	p.setState("connecting", nil)
	// The RTCP readers end when the connection closes; the session waits
	// for them (deferred first, so it runs after the Close below).
	var rtcpReaders sync.WaitGroup
	defer rtcpReaders.Wait()
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{ICEServers: p.cfg.ICEServers})
	if err != nil {
		return fmt.Errorf("peer connection: %w", err)
	}
	defer pc.Close()
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}, "video", "diemcau")
	if err != nil {
		return err
	}
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "diemcau")
	if err != nil {
		return err
	}
	for _, tr := range []*webrtc.TrackLocalStaticRTP{video, audio} {
		t, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return fmt.Errorf("add %s: %w", tr.Kind(), err)
		}
		sender := t.Sender()
		rtcpReaders.Go(func() { p.readRTCP(sender) })
	}
	failed := make(chan struct{})
	var once sync.Once
	connected := make(chan struct{})
	var connOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			connOnce.Do(func() { close(connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateDisconnected:
			once.Do(func() { close(failed) })
		}
	})

	resource, err := negotiate(ctx, pc, p.cfg.Client, p.cfg.URL, p.cfg.Token)
	if err != nil {
		return err
	}
	// Ended beside the next connect, not before it: a server that
	// restarted does not know the resource and may hold the DELETE (LiveKit
	// held it until this client gave up, 2 s), which would delay the
	// reconnect by as much.
	defer p.deletes.Go(func() { exchange.Delete(p.cfg.Client, resource, p.cfg.Token) })
	select {
	case <-connected:
	case <-failed:
		return errors.New("ICE failed: no path to the WHIP server's media port")
	case <-time.After(pushConnectTimeout):
		return fmt.Errorf("not connected within %v: no path to the WHIP server's media port", pushConnectTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	p.setState("online", nil)
	p.log.Info("output online", "resource", resource)
	p.cfg.Stream.RequestKeyframe()
	return p.send(ctx, video, audio, failed)
}

// waitForVideo waits until the stream has a video track: a session's
// composite exists only while it runs.
func (p *Pusher) waitForVideo(ctx context.Context) error {
	for p.cfg.Stream.Track(pipeline.Video) == nil {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

// negotiate makes pc's offer, gathers its candidates (3 s at most: what
// was gathered goes), POSTs it to endpoint and sets the answer; it returns
// the resource to DELETE at the end.
func negotiate(ctx context.Context, pc *webrtc.PeerConnection, client *http.Client, endpoint, token string) (string, error) {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", fmt.Errorf("offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return "", fmt.Errorf("offer: %w", err)
	}
	select {
	case <-gathered:
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	answer, resource, err := exchange.Post(ctx, client, endpoint, token, pc.LocalDescription().SDP)
	if err != nil {
		return "", fmt.Errorf("POST offer: %w", err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		exchange.Delete(client, resource, token)
		return "", fmt.Errorf("answer: %w", err)
	}
	return resource, nil
}

// readRTCP answers the far end's keyframe requests; the interceptors
// (NACK, reports) read the same packets before this sees them.
func (p *Pusher) readRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if p.cfg.Stream.RequestKeyframe() {
					p.keyframes.Add(1)
				}
			}
		}
	}
}

// send writes the stream's frames as RTP until the connection fails or ctx
// ends. Timestamps follow the frames' PTS on one timeline for both tracks,
// so the sender reports line sound up with picture at the far end.
func (p *Pusher) send(ctx context.Context, video, audio *webrtc.TrackLocalStaticRTP, failed <-chan struct{}) error {
	r := p.cfg.Stream.NewReader(pipeline.ReaderConfig{Name: "whip-out " + p.cfg.Name, FromKeyframe: true})
	defer r.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-failed:
			cancel()
		case <-ctx.Done():
		}
	}()
	var units [][]byte
	var pays []h26x.Payload
	vseq, aseq := uint16(rand.Uint32()), uint16(rand.Uint32())
	vbase, abase := rand.Uint32(), rand.Uint32()
	started := false
	for {
		f, err := r.Read(ctx)
		if err != nil {
			select {
			case <-failed:
				return errors.New("connection lost")
			default:
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("stream: %w", err)
		}
		if f.Track == nil {
			continue
		}
		switch f.Track.Codec {
		case pipeline.H264:
			if !started && !f.Key {
				continue
			}
			started = true
			units, pays = h264Payloads(units, pays, f)
			// One buffer per frame for its payloads: what the interceptors
			// keep of a packet is theirs to copy, but nothing is reused
			// under them.
			size := 0
			for i := range pays {
				size += pays[i].Len()
			}
			buf := make([]byte, size)
			ts := vbase + rtpTime(f.PTS, 90000)
			for i := range pays {
				n := pays[i].Put(buf)
				pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: vseq, Timestamp: ts, Marker: i == len(pays)-1}, Payload: buf[:n:n]}
				buf = buf[n:]
				vseq++
				if err := video.WriteRTP(pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
					return fmt.Errorf("write video: %w", err)
				}
			}
			units, pays = releaseH264(units, pays)
			p.frames.Add(1)
		case pipeline.Opus:
			if !started {
				continue
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: abase + rtpTime(f.PTS, 48000), Marker: false}, Payload: f.Payload}
			aseq++
			if err := audio.WriteRTP(pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return fmt.Errorf("write audio: %w", err)
			}
		}
	}
}
