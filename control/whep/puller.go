package whep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"diemcau/ingest"
	"diemcau/ingest/exchange"
	"diemcau/pipeline"
)

// PullerURL is the form of a whep:// source: the remote WHEP endpoint,
// with the Bearer token as the URL's password (shown as *** like every
// credential in a source URL). whep:// is plain HTTP (a hub on the LAN
// or in a test), wheps:// HTTPS. Without a path, the token is an invite
// of a diemcau hub, which says where its feed is (GET /api/v1/invite):
// a point invite's is the point's return feed.
//
//	wheps://:TOKEN@hub.example/whep/sessions/phien/points/xa-a
//	wheps://:POINT-INVITE@hub.example
const PullerURL = "wheps://:TOKEN@host/whep/… or wheps://:INVITE@host"

// Puller is a source whose picture and sound are a remote WHEP stream: a
// point node's return feed from its hub. It plays the stream like a
// viewer, then hands the packets to an ingest.WHIPSource, which orders,
// times and writes them like a WHIP publisher's, so the feed is shown,
// re-served over RTSP and recorded like any source.
type Puller struct {
	src      *ingest.WHIPSource
	endpoint string // without credentials
	token    string
	api      *webrtc.API
	link     *linkMeter // counts the NACKs sent
	client   *http.Client
	log      *slog.Logger
}

// NewPullerFactory makes whep:// and wheps:// sources (ingest.Factory).
func NewPullerFactory() ingest.Factory {
	return func(cfg ingest.SourceConfig, log *slog.Logger) (ingest.Source, error) {
		return NewPuller(cfg, log)
	}
}

// NewPuller checks cfg.URL and makes the source; Run plays it.
func NewPuller(cfg ingest.SourceConfig, log *slog.Logger) (*Puller, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "whep" && u.Scheme != "wheps") || u.Host == "" ||
		(u.Path != "" && u.Path != "/" && !strings.HasPrefix(u.Path, "/whep/")) {
		return nil, fmt.Errorf("source %q: url: want %s", cfg.ID, PullerURL)
	}
	token, _ := u.User.Password()
	u.User = nil
	u.Scheme = map[string]string{"whep": "http", "wheps": "https"}[u.Scheme]
	src, err := ingest.NewWHIPSource(ingest.WHIPConfig{ID: cfg.ID, Name: cfg.Name, URL: "whip://", Feed: cfg.Feed}, log)
	if err != nil {
		return nil, err
	}
	link := newLinkMeter()
	api, err := pullerAPI(link)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", cfg.ID, err)
	}
	return &Puller{src: src, endpoint: u.String(), token: token, api: api, link: link,
		client: &http.Client{Timeout: pushConnectTimeout},
		log:    log.With("component", "whep-pull", "source", cfg.ID)}, nil
}

// pullerAPI offers what a diemcau WHEP server sends: H.264 in the usual
// profiles (the server answers with the one its stream has) and Opus, with
// NACKs and receiver reports so a lossy path is repaired. link comes
// first, next to the transport, where it sees the NACKs sent.
func pullerAPI(link *linkMeter) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}
	for i, profile := range []string{"42e01f", "42001f", "4d001f", "64001f"} {
		c := webrtc.RTPCodecParameters{PayloadType: webrtc.PayloadType(102 + 2*i), RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: fb,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + profile}}
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{PayloadType: 111, RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	ir.Add(link)
	gen, err := nack.NewGeneratorInterceptor(nack.GeneratorInterval(nackInterval))
	if err != nil {
		return nil, err
	}
	ir.Add(gen)
	rr, err := report.NewReceiverInterceptor(report.ReceiverInterval(time.Second))
	if err != nil {
		return nil, err
	}
	ir.Add(rr)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir)), nil
}

// ID is the source id.
func (p *Puller) ID() string { return p.src.ID() }

// Stream is where the remote feed's frames go.
func (p *Puller) Stream() *pipeline.Stream { return p.src.Stream() }

// Status is the source's status, with the link's figures.
func (p *Puller) Status() ingest.Status {
	st := p.src.Status()
	st.Transport = "webrtc (whep pull)"
	return st
}

// Rename changes the name its status shows.
func (p *Puller) Rename(name string) { p.src.Rename(name) }

// Run plays the remote stream until ctx ends, reconnecting with back-off
// (the first retries within a second: a hub restarting should cost a
// point no more than that once it answers again).
func (p *Puller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { _ = p.src.Run(ctx) })
	wait := pushRetryMin
	failures := 0
	for ctx.Err() == nil {
		started := time.Now()
		err := p.play(ctx)
		if ctx.Err() != nil {
			break
		}
		if time.Since(started) > 10*time.Second {
			wait, failures = pushRetryMin, 0
		}
		failures++
		if failures == 1 || failures%20 == 0 {
			p.log.Warn("remote feed offline", "error", err, "retry_in", wait, "attempts", failures)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, pushRetryMax)
	}
	return nil
}

// play is one connection to the remote WHEP endpoint.
func (p *Puller) play(ctx context.Context) error {
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("peer connection: %w", err)
	}
	defer pc.Close()
	recv := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}
	vt, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, recv)
	if err != nil {
		return err
	}
	at, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, recv)
	if err != nil {
		return err
	}
	ended := make(chan string, 4)
	end := func(reason string) {
		select {
		case ended <- reason:
		default:
		}
	}
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		// Disconnected too: ICE calls a path failed only after 25 s, and a
		// hub that restarts is back long before.
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed || s == webrtc.PeerConnectionStateDisconnected {
			end("connection " + s.String())
		}
	})
	endpoint, err := p.resolve(ctx)
	if err != nil {
		return err
	}
	resource, err := negotiate(ctx, pc, p.client, endpoint, p.token)
	if err != nil {
		return err
	}
	defer exchange.Delete(p.client, resource, p.token)
	media := ingest.WHIPMedia{VideoPT: negotiatedPT(vt)}
	if pt := negotiatedPT(at); pt != 0 {
		media.HasAudio, media.AudioPT = true, pt
	}
	if media.VideoPT == 0 {
		return errors.New("the answer has no H.264 video")
	}
	var videoSSRC uint32
	var ssrcMu sync.Mutex
	keyframe := func() {
		ssrcMu.Lock()
		ssrc := videoSSRC
		ssrcMu.Unlock()
		if ssrc != 0 {
			_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
		}
	}
	pub, err := p.src.Publish(p.endpoint, media, end, keyframe)
	if err != nil {
		return err
	}
	// readers are this connection's track readers (pion's OnTrack
	// goroutines and their RTCP readers): all have returned before the
	// publisher is closed. closed keeps a late OnTrack from joining once
	// the wait began.
	var readers sync.WaitGroup
	var readersMu sync.Mutex
	closed := false
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		readersMu.Lock()
		if closed {
			readersMu.Unlock()
			return
		}
		readers.Add(2)
		readersMu.Unlock()
		defer readers.Done()
		video := tr.Kind() == webrtc.RTPCodecTypeVideo
		if video {
			ssrcMu.Lock()
			videoSSRC = uint32(tr.SSRC())
			ssrcMu.Unlock()
			keyframe()
		}
		readTrack(pub, video, tr, r, readers.Done)
	})
	p.log.Info("remote feed playing", "endpoint", p.endpoint)
	// The round trip and the NACKs go into the source's figures once a
	// second; loss, jitter and bitrate the publisher counts itself.
	stats := time.NewTicker(time.Second)
	defer stats.Stop()
	var reason string
wait:
	for {
		select {
		case reason = <-ended:
			break wait
		case <-ctx.Done():
			reason = "source stopped"
			break wait
		case <-stats.C:
			pub.SetNetwork(pairRTTMS(pc), p.link.Stats().NACKsSent)
		}
	}
	_ = pc.Close()
	readersMu.Lock()
	closed = true
	readersMu.Unlock()
	readers.Wait()
	pub.Close(reason)
	if ctx.Err() != nil {
		return nil
	}
	return errors.New(reason)
}

// resolve is the WHEP endpoint to play: the URL's, or, for a URL without a
// path, the one the hub gives for the invite.
func (p *Puller) resolve(ctx context.Context) (string, error) {
	u, _ := url.Parse(p.endpoint)
	if u.Path != "" && u.Path != "/" {
		return p.endpoint, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.Scheme+"://"+u.Host+"/api/v1/invite", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	res, err := p.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("ask the hub for the invite's feed: %w", exchange.WithoutURL(err))
	}
	defer res.Body.Close()
	var inv struct {
		WHEP string `json:"whep"`
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("ask the hub for the invite's feed: %s: %s", res.Status, exchange.Reason(body))
	}
	if err := json.Unmarshal(body, &inv); err != nil || !strings.HasPrefix(inv.WHEP, "/whep/") {
		return "", fmt.Errorf("ask the hub for the invite's feed: no whep path in its answer")
	}
	u.Path = inv.WHEP
	return u.String(), nil
}

// negotiatedPT is the payload type the answer chose for a transceiver.
func negotiatedPT(t *webrtc.RTPTransceiver) uint8 {
	if t == nil || t.Receiver() == nil {
		return 0
	}
	codecs := t.Receiver().GetParameters().Codecs
	if len(codecs) == 0 {
		return 0
	}
	return uint8(codecs[0].PayloadType)
}
