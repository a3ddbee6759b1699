package avsync

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"diemcau/ingest/exchange"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// whepTimeout bounds the offer's POST and the resource's DELETE.
const whepTimeout = 15 * time.Second

// captureWHEP plays the endpoint as a WHEP viewer (H.264 and Opus), keeps
// every RTP packet and sender report for d from the first media packet,
// and writes both tracks to file on the sender reports' clock. It returns
// how the tracks were put on one clock.
func captureWHEP(ctx context.Context, opts Options, endpoint string, d time.Duration, file string) (string, error) {
	api, err := whepAPI()
	if err != nil {
		return "", err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", err
	}
	rec := &recording{}
	var readers sync.WaitGroup
	var mu sync.Mutex
	closed := false
	defer func() {
		mu.Lock()
		closed = true
		mu.Unlock()
		_ = pc.Close()
		readers.Wait()
	}()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return "", err
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return
		}
		t := rec.track(tr.Kind(), tr.Codec().MimeType, tr.Codec().ClockRate, uint32(tr.SSRC()))
		readers.Go(func() { readRTP(tr, t, rec) })
		readers.Go(func() { readRTCP(r, t) })
	})
	failed := make(chan struct{})
	var failOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		opts.Log.Debug("whep connection", "state", s.String())
		if s == webrtc.PeerConnectionStateFailed {
			failOnce.Do(func() { close(failed) })
		}
	})

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	postCtx, cancel := context.WithTimeout(ctx, whepTimeout)
	answer, resource, err := exchange.Post(postCtx, http.DefaultClient, endpoint, opts.Token, pc.LocalDescription().SDP)
	cancel()
	if err != nil {
		return "", fmt.Errorf("%w: whep: %v", ErrOpen, err)
	}
	defer exchange.Delete(http.DefaultClient, resource, opts.Token)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return "", fmt.Errorf("%w: whep: answer: %v", ErrOpen, err)
	}

	// Read until d of media has come (on the wall clock, from the first
	// packet), or give up on a connection that does not carry media.
	timeout := time.NewTimer(d + connectBudget)
	defer timeout.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-failed:
			return "", fmt.Errorf("%w: whep: the connection failed (ICE or DTLS)", ErrOpen)
		case <-timeout.C:
			if rec.started().IsZero() {
				return "", fmt.Errorf("%w: whep: no media within %v", ErrOpen, d+connectBudget)
			}
			return rec.write(file)
		case <-tick.C:
			if s := rec.started(); !s.IsZero() && time.Since(s) >= d {
				return rec.write(file)
			}
		}
	}
}

func whepAPI() (*webrtc.API, error) {
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true) // a server on this machine
	return exchange.NewAPI(se)
}

func readRTP(tr *webrtc.TrackRemote, t *rtpTrack, rec *recording) {
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		rec.add(t, pkt, time.Now())
	}
}

func readRTCP(r *webrtc.RTPReceiver, t *rtpTrack) {
	for {
		pkts, _, err := r.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == t.ssrc() {
				t.addSR(ntpTime(sr.NTPTime), sr.RTPTime)
			}
		}
	}
}

// ntpTime is an NTP timestamp as time since 1900: only differences matter.
func ntpTime(ntp uint64) time.Duration {
	return time.Duration(ntp>>32)*time.Second + time.Duration((ntp&0xffffffff)*uint64(time.Second)>>32)
}
