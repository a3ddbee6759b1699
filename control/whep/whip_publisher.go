package whep

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"diemcau/ingest"
)

// nackInterval is how often missing packets are asked for again. The
// jitter buffer waits 300 ms for video: at 40 ms a lost packet is asked
// for several times within it, on a path with a 100 ms round trip.
const nackInterval = 40 * time.Millisecond

// publisher is one WHIP resource: a peer connection that receives a
// point's picture and sound and hands them to its whip:// source.
type publisher struct {
	id      string
	source  string
	grant   Grant
	quota   quotaKey
	srv     *Server
	pc      *webrtc.PeerConnection                // set before the publisher runs
	pcRef   atomic.Pointer[webrtc.PeerConnection] // for keyframe requests, which may come first
	ingest  *ingest.WHIPPublisher
	created time.Time
	remote  string

	videoSSRC atomic.Uint32
	nacks     atomic.Uint64 // NACK packets sent, counted as they leave
	plis      atomic.Uint64

	state     atomic.Int32
	stateWake chan struct{}
	closeReq  chan struct{}
	closeOnce sync.Once
	reason    atomic.Pointer[string]
	connected atomic.Bool
	readers   sync.WaitGroup
}

func (p *publisher) close(reason string) {
	p.closeOnce.Do(func() {
		p.reason.Store(&reason)
		close(p.closeReq)
	})
}

// newPublisher claims the source's publishing slot, makes the peer
// connection and returns the answer.
func (s *Server) newPublisher(r *http.Request, id string, g Grant, src *ingest.WHIPSource, o *whipOffer) (*publisher, string, *httpError) {
	q := quotaOf(g, r)
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return nil, "", &httpError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the WebRTC server is not running", RetryAfter: 2}
	}
	if herr := s.checkCapsLocked(q); herr != nil {
		s.mu.Unlock()
		return nil, "", herr
	}
	if _, gone := s.revoked[g.Invite]; gone && g.Invite != "" {
		s.mu.Unlock()
		return nil, "", errorf(http.StatusUnauthorized, "unauthorized", "the invite was revoked")
	}
	s.connecting++
	s.takeLocked(q)
	s.wg.Add(1)
	n, cert, runCtx := s.net, s.cert, s.runCtx
	s.mu.Unlock()

	p := &publisher{id: newResourceID(), source: id, grant: g, quota: q, srv: s, created: time.Now(), remote: r.RemoteAddr,
		stateWake: make(chan struct{}, 1), closeReq: make(chan struct{})}
	release := func() {
		s.mu.Lock()
		s.connecting--
		s.dropLocked(q, false)
		s.mu.Unlock()
		s.wg.Done()
	}
	media := ingest.WHIPMedia{VideoPT: o.video.pt}
	if o.audio != nil {
		media.HasAudio, media.AudioPT = true, o.audio.pt
	}
	pub, err := src.Publish(r.RemoteAddr, media, p.close, p.requestKeyframe)
	if err != nil {
		release()
		switch {
		case errors.Is(err, ingest.ErrPublisherBusy):
			return nil, "", errorf(http.StatusConflict, "busy", "source %q already has a live publisher: only one at a time (DELETE its resource, or it is dropped 2 s after it goes silent)", id)
		case errors.Is(err, ingest.ErrSourceStopped):
			return nil, "", &httpError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: err.Error(), RetryAfter: 2}
		}
		return nil, "", errorf(http.StatusUnprocessableEntity, "unsupported_codec", "%v", err)
	}
	p.ingest = pub
	answer, herr := p.connect(r.Context(), n, cert, o)
	if herr != nil {
		pub.Close("the offer could not be answered")
		release()
		return nil, "", herr
	}
	s.mu.Lock()
	_, revoked := s.revoked[g.Invite]
	if !revoked || g.Invite == "" {
		s.whip.publishers[p.id] = p
	}
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		p.run(runCtx)
	}()
	if revoked && g.Invite != "" {
		p.close("invite revoked while connecting")
		return nil, "", errorf(http.StatusUnauthorized, "unauthorized", "the invite was revoked")
	}
	return p, answer, nil
}

func (p *publisher) connect(ctx context.Context, n *network, cert webrtc.Certificate, o *whipOffer) (string, *httpError) {
	video, audio := whipCodecs(o)
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(video, webrtc.RTPCodecTypeVideo); err != nil {
		return "", errorf(http.StatusInternalServerError, "internal", "register video codec: %v", err)
	}
	if audio != nil {
		if err := me.RegisterCodec(*audio, webrtc.RTPCodecTypeAudio); err != nil {
			return "", errorf(http.StatusInternalServerError, "internal", "register audio codec: %v", err)
		}
	}
	// What a browser needs to send well over a lossy path: NACKs for lost
	// packets (the jitter buffer waits for their retransmission), receiver
	// reports (its RTT and loss), and transport-wide congestion feedback,
	// from which it lowers its bitrate instead of losing frames.
	ir := &interceptor.Registry{}
	// First, so that it wraps the RTCP writer every later interceptor
	// (the NACK generator) writes to.
	ir.Add(rtcpCounter{p: p})
	gen, err := nack.NewGeneratorInterceptor(nack.GeneratorInterval(nackInterval))
	if err != nil {
		return "", errorf(http.StatusInternalServerError, "internal", "nack: %v", err)
	}
	ir.Add(gen)
	rr, err := report.NewReceiverInterceptor(report.ReceiverInterval(time.Second))
	if err != nil {
		return "", errorf(http.StatusInternalServerError, "internal", "receiver reports: %v", err)
	}
	ir.Add(rr)
	if err := webrtc.ConfigureTWCCSender(me, ir); err != nil {
		return "", errorf(http.StatusInternalServerError, "internal", "twcc: %v", err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(n.setting), webrtc.WithInterceptorRegistry(ir))
	pc, err := api.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{cert}})
	if err != nil {
		return "", errorf(http.StatusInternalServerError, "internal", "peer connection: %v", err)
	}
	p.pc = pc
	p.pcRef.Store(pc)
	fail := func(status int, code, format string, args ...any) (string, *httpError) {
		_ = pc.Close()
		return "", errorf(status, code, format, args...)
	}
	recv := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, recv); err != nil {
		return fail(http.StatusInternalServerError, "internal", "video transceiver: %v", err)
	}
	if audio != nil {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, recv); err != nil {
			return fail(http.StatusInternalServerError, "internal", "audio transceiver: %v", err)
		}
	}
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		p.state.Store(int32(st))
		select {
		case p.stateWake <- struct{}{}:
		default:
		}
	})
	answer, herr := answerOffer(ctx, pc, o.sdp)
	if herr != nil {
		return fail(herr.Status, herr.Code, "%s", herr.Message)
	}
	return answer, nil
}

// onTrack reads one incoming track into the source, and its RTCP (the
// sender reports that time it).
func (p *publisher) onTrack(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	video := tr.Kind() == webrtc.RTPCodecTypeVideo
	if video {
		p.videoSSRC.Store(uint32(tr.SSRC()))
		// A decoder can start only at a keyframe: ask for one now rather
		// than wait for the publisher's next.
		p.requestKeyframe()
	}
	p.readers.Add(1)
	readTrack(p.ingest, video, tr, recv, p.readers.Done)
}

// readTrack feeds an incoming track to pub until the track ends: its RTP
// here, and its RTCP, whose sender reports time it, on a goroutine of its
// own that calls done when it returns.
func readTrack(pub *ingest.WHIPPublisher, video bool, tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver, done func()) {
	go func() {
		defer done()
		for {
			pkts, _, err := recv.ReadRTCP()
			if err != nil {
				return
			}
			now := time.Now()
			for _, pk := range pkts {
				if sr, ok := pk.(*rtcp.SenderReport); ok {
					pub.SenderReport(video, sr, now)
				}
			}
		}
	}()
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		pub.Packet(video, pkt, time.Now())
	}
}

// requestKeyframe sends a PLI for the video (the mixer starting, a
// viewer joining, a picture lost beyond repair).
func (p *publisher) requestKeyframe() {
	ssrc, pc := p.videoSSRC.Load(), p.pcRef.Load()
	if ssrc == 0 || pc == nil {
		return
	}
	_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
}

// run lives as long as the publisher: it reaps it when ICE fails, when it
// never connects, on DELETE, revocation or the server stopping, and
// refreshes its network figures once a second.
func (p *publisher) run(ctx context.Context) {
	reason := p.wait(ctx)
	_ = p.pc.Close()
	p.readers.Wait()
	p.ingest.Close(reason)
	s := p.srv
	s.mu.Lock()
	delete(s.whip.publishers, p.id)
	connected := p.connected.Load()
	if !connected {
		s.connecting--
	}
	s.dropLocked(p.quota, connected)
	s.mu.Unlock()
	n := p.ingest.NetStats()
	s.log.Info("publisher left", "publisher", p.id, "source", p.source, "grant", p.grant.Who, "remote", p.remote, "reason", reason,
		"published", time.Since(p.created).Round(time.Second), "packets", n.PacketsReceived, "lost", n.PacketsLost,
		"nacks", p.nacks.Load(), "keyframe_requests", p.plis.Load())
}

func (p *publisher) wait(ctx context.Context) string {
	timer := time.NewTimer(p.srv.cfg.ConnectTimeout)
	defer timer.Stop()
	stats := time.NewTicker(time.Second)
	defer stats.Stop()
	for {
		select {
		case <-ctx.Done():
			return "server stopping"
		case <-p.closeReq:
			return *p.reason.Load()
		case <-timer.C:
			if !p.connected.Load() {
				return "never connected (ICE or DTLS did not complete)"
			}
		case <-stats.C:
			p.ingest.SetNetwork(p.rttMS(), p.nacks.Load())
		case <-p.stateWake:
			switch webrtc.PeerConnectionState(p.state.Load()) {
			case webrtc.PeerConnectionStateConnected:
				if !p.connected.Swap(true) {
					p.srv.mu.Lock()
					p.srv.connecting--
					p.srv.connectedLocked(p.quota)
					p.srv.mu.Unlock()
					p.srv.log.Info("publisher connected", "publisher", p.id, "source", p.source, "grant", p.grant.Who, "after", time.Since(p.created).Round(time.Millisecond))
				}
			case webrtc.PeerConnectionStateDisconnected:
				// The source's own idle check drops a silent publisher
				// within 2 s; nothing to do here.
			case webrtc.PeerConnectionStateFailed:
				return "connection failed (the publisher's network went silent)"
			case webrtc.PeerConnectionStateClosed:
				return "connection closed"
			}
		}
	}
}

// rttMS is the round trip of the selected ICE candidate pair, from ICE's
// own consent checks: a receive-only peer sends no sender reports, so
// RTCP cannot time the path here.
func (p *publisher) rttMS() float64 { return pairRTTMS(p.pc) }

// rtcpCounter counts the NACKs and PLIs the publisher's connection sends.
type rtcpCounter struct{ p *publisher }

func (f rtcpCounter) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &rtcpCounting{p: f.p}, nil
}

type rtcpCounting struct {
	interceptor.NoOp
	p *publisher
}

func (c *rtcpCounting) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, attrs interceptor.Attributes) (int, error) {
		for _, pk := range pkts {
			switch pk.(type) {
			case *rtcp.TransportLayerNack:
				c.p.nacks.Add(1)
			case *rtcp.PictureLossIndication:
				c.p.plis.Add(1)
			}
		}
		return w.Write(pkts, attrs)
	})
}
