package checks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

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
	answer, location, err := postOffer(ctx, client, endpoint, token, pc.LocalDescription().SDP)
	if err != nil {
		return err
	}
	defer deleteResource(client, endpoint, location, token)
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

func postOffer(ctx context.Context, client *http.Client, endpoint, token, sdp string) (answer, location string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewBufferString(sdp))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("whep: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("whep: %s: %s", res.Status, bytes.TrimSpace(body))
	}
	if len(body) == 0 {
		return "", "", errors.New("whep: empty answer")
	}
	return string(body), res.Header.Get("Location"), nil
}

func deleteResource(client *http.Client, endpoint, location, token string) {
	if location == "" {
		return
	}
	base, err := url.Parse(endpoint)
	if err != nil {
		return
	}
	ref, err := base.Parse(location)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, ref.String(), nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if res, err := client.Do(req); err == nil {
		res.Body.Close()
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
