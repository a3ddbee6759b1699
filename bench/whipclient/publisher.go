// Package whipclient is a WHIP publisher for tests and load scenarios: a
// pion peer that sends a looped H.264 (and Opus) clip in real time as a
// browser would (parameter sets before every keyframe, a keyframe at once
// on PLI, NACKs answered, transport-wide congestion feedback), and a lossy
// UDP relay to put between it and the server.
package whipclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"diemcau/ingest/exchange"
)

// Clip is what a publisher sends, looped: H.264 access units (NAL units
// without start codes, no parameter sets needed inside), whether each is a
// keyframe, the parameter sets, the frame rate, and optional 20 ms Opus
// packets.
type Clip struct {
	AUs      [][][]byte
	Keys     []bool
	SPS, PPS []byte
	FPS      int
	Opus     [][]byte
}

// Options tune a publisher.
type Options struct {
	// Relay, when set, carries the media: the answer's candidate is
	// rewritten to the relay's address.
	Relay *Relay
	// NoAudio sends video only (also when the clip has no Opus).
	NoAudio bool
	// KeepTiming leaves the clip's picture in step with its sound when a
	// PLI comes (the lip-sync pattern); by default the clip jumps to its
	// first keyframe at once, as a browser's encoder answers a PLI.
	KeepTiming bool
}

// Publisher is one WHIP publisher.
type Publisher struct {
	pc       *webrtc.PeerConnection
	Resource string // the Location of the WHIP resource
	Answer   string
	base     string
	token    string

	plis, nacks, pictures atomic.Uint64
	wantKey               atomic.Bool
	cancel                context.CancelFunc
	wg                    sync.WaitGroup
}

// Status is an answer other than 201.
type Status struct {
	Code int
	Body string
}

func (s *Status) Error() string { return fmt.Sprintf("WHIP: %d %s", s.Code, s.Body) }

// NewAPI is the publisher's pion API: H.264 and Opus, pion's default
// interceptors (NACK responder, reports, TWCC), loopback only.
func NewAPI() (*webrtc.API, error) {
	se := webrtc.SettingEngine{LoggerFactory: quietPion{}}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return exchange.NewAPI(se)
}

// Publish offers to url with the bearer token and, once answered, sends
// the clip until Close. A refusal is a *Status.
func Publish(ctx context.Context, api *webrtc.API, url, token string, clip *Clip, o Options) (*Publisher, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	base := url
	if i := strings.Index(url, "/whip/"); i >= 0 {
		base = url[:i]
	}
	p := &Publisher{pc: pc, base: base, token: token}
	vt, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}, "video", "whip")
	if err != nil {
		p.stop()
		return nil, err
	}
	at, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "whip")
	if err != nil {
		p.stop()
		return nil, err
	}
	audio := !o.NoAudio && len(clip.Opus) > 0
	tracks := []*webrtc.TrackLocalStaticSample{vt}
	if audio {
		tracks = append(tracks, at)
	}
	for _, t := range tracks {
		tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			p.stop()
			return nil, err
		}
		sender := tr.Sender()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.readRTCP(sender)
		}()
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		p.stop()
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		p.stop()
		return nil, err
	}
	<-gathered
	offerSDP := pc.LocalDescription().SDP
	if o.Relay != nil {
		offerSDP = o.Relay.RewriteOffer(offerSDP)
	}
	status, header, body, err := do(ctx, http.MethodPost, url, token, offerSDP)
	if err == nil && status != http.StatusCreated {
		err = &Status{Code: status, Body: body}
	}
	if err != nil {
		p.stop()
		return nil, err
	}
	p.Resource, p.Answer = header.Get("Location"), body
	answer := body
	if o.Relay != nil {
		answer = o.Relay.Rewrite(answer)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		p.stop()
		return nil, fmt.Errorf("set answer: %w", err)
	}
	sendCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.send(sendCtx, clip, vt, at, audio, !o.KeepTiming)
	}()
	return p, nil
}

func (p *Publisher) readRTCP(sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pk := range pkts {
			switch pk.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.plis.Add(1)
				p.wantKey.Store(true)
			case *rtcp.TransportLayerNack:
				p.nacks.Add(1)
			}
		}
	}
}

// send writes the clip in real time: every keyframe with its parameter
// sets in front, and the clip's first keyframe at once after a PLI, as a
// browser's encoder answers one.
func (p *Publisher) send(ctx context.Context, clip *Clip, vt, at *webrtc.TrackLocalStaticSample, audio, keyOnPLI bool) {
	frame := time.Second / time.Duration(clip.FPS)
	const audioStep = 20 * time.Millisecond
	start := time.Now()
	var vi, ai, ci int
	for {
		vpts, apts := time.Duration(vi)*frame, time.Duration(ai)*audioStep
		if !audio {
			apts = vpts + time.Hour
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(min(vpts, apts)))):
		}
		if vpts <= apts {
			if p.wantKey.Swap(false) && keyOnPLI {
				ci = 0
			}
			i := ci % len(clip.AUs)
			ci++
			nalus := clip.AUs[i]
			if clip.Keys[i] {
				nalus = append([][]byte{clip.SPS, clip.PPS}, nalus...)
			}
			var annexB []byte
			for _, n := range nalus {
				annexB = append(annexB, 0, 0, 0, 1)
				annexB = append(annexB, n...)
			}
			if vt.WriteSample(media.Sample{Data: annexB, Duration: frame}) == nil {
				p.pictures.Add(1)
			}
			vi++
		} else {
			_ = at.WriteSample(media.Sample{Data: clip.Opus[ai%len(clip.Opus)], Duration: audioStep})
			ai++
		}
	}
}

// PLIs, NACKs and Pictures count the keyframe requests and retransmission
// requests received and the pictures sent.
func (p *Publisher) PLIs() uint64     { return p.plis.Load() }
func (p *Publisher) NACKs() uint64    { return p.nacks.Load() }
func (p *Publisher) Pictures() uint64 { return p.pictures.Load() }

// Vanish stops sending without a word, as a publisher whose network
// dropped; Close still has to be called.
func (p *Publisher) Vanish() {
	if p.cancel != nil {
		p.cancel()
	}
}

// Close ends the publisher the polite way (DELETE, then close) and
// returns the DELETE's status.
func (p *Publisher) Close(ctx context.Context) (int, error) {
	status, _, _, err := do(ctx, http.MethodDelete, p.base+p.Resource, p.token, "")
	p.stop()
	return status, err
}

func (p *Publisher) stop() {
	if p.cancel != nil {
		p.cancel()
	}
	_ = p.pc.Close()
	p.wg.Wait()
}

func do(ctx context.Context, method, url, token, body string) (int, http.Header, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/sdp")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		return res.StatusCode, res.Header, string(b), err
	}
	return res.StatusCode, res.Header, string(b), nil
}

type quietPion struct{}

func (quietPion) NewLogger(string) logging.LeveledLogger {
	return logging.NewDefaultLeveledLoggerForScope("", logging.LogLevelDisabled, io.Discard)
}

// Path is the ICE candidate pair in use, "local -> remote", for logs.
func (p *Publisher) Path() string {
	for _, st := range p.pc.GetStats() {
		if cp, ok := st.(webrtc.ICECandidatePairStats); ok && cp.Nominated {
			local, _ := p.pc.GetStats()[cp.LocalCandidateID].(webrtc.ICECandidateStats)
			remote, _ := p.pc.GetStats()[cp.RemoteCandidateID].(webrtc.ICECandidateStats)
			return fmt.Sprintf("%s:%d %s -> %s:%d %s", local.IP, local.Port, local.CandidateType, remote.IP, remote.Port, remote.CandidateType)
		}
	}
	return "none"
}
