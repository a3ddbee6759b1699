package checks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"diemcau/ingest/exchange"

	"github.com/pion/webrtc/v4"
)

// WHEPViewer is the WebRTC leg of a check: it plays a WHEP endpoint the way
// a participant's browser would (offer, answer, ICE, DTLS, SRTP) and returns
// once a video packet arrived, or why none did. endpoint is the full URL of
// e.g. /whep/sessions/{id}; token authorises it; client may be nil.
func WHEPViewer(ctx context.Context, client *http.Client, endpoint, token string) error {
	return WHEPViewerOf(ctx, client, endpoint, token, nil)
}

// WHEPViewerOf is WHEPViewer that also requires the answer's DTLS
// fingerprint to be one of fingerprints ("sha-256 AB:CD:…"): the media then
// comes from the holder of that certificate (pion checks the DTLS
// handshake against the answer), not from whatever answered. Empty: any.
func WHEPViewerOf(ctx context.Context, client *http.Client, endpoint, token string, fingerprints []string) error {
	if client == nil {
		client = http.DefaultClient
	}
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("webrtc: %w", err)
	}
	defer pc.Close()
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return fmt.Errorf("webrtc: %w", err)
		}
	}
	got := make(chan struct{}, 1)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() != webrtc.RTPCodecTypeVideo {
			return
		}
		// One packet is enough: media crossed ICE, DTLS and SRTP.
		if _, _, err := tr.ReadRTP(); err == nil {
			select {
			case got <- struct{}{}:
			default:
			}
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("webrtc: offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("webrtc: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fmt.Errorf("webrtc: gathering candidates: %w", ctx.Err())
	}
	answer, resource, err := exchange.Post(ctx, client, endpoint, token, pc.LocalDescription().SDP)
	if err != nil {
		return fmt.Errorf("whep: %w", err)
	}
	defer exchange.Delete(client, resource, token)
	if len(fingerprints) > 0 && !answerHasFingerprint(answer, fingerprints) {
		return errors.New("webrtc: the answer's DTLS fingerprint is not this server's: another program answered")
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("webrtc: the server's answer: %w", err)
	}
	select {
	case <-got:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no video within the check's time (ICE state %s)", pc.ICEConnectionState())
	}
}

// answerHasFingerprint reports whether an a=fingerprint line of the SDP is
// one of want (algorithm case-insensitive, hex case-insensitive).
func answerHasFingerprint(sdp string, want []string) bool {
	for _, line := range strings.Split(sdp, "\n") {
		fp, ok := strings.CutPrefix(strings.TrimSpace(line), "a=fingerprint:")
		if !ok {
			continue
		}
		for _, w := range want {
			if strings.EqualFold(strings.Join(strings.Fields(fp), " "), w) {
				return true
			}
		}
	}
	return false
}
