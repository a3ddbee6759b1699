package whep

import (
	"context"
	"net/http"
	"time"

	"github.com/pion/webrtc/v4"
)

// gatherTimeout bounds ICE gathering for an answer: host candidates on the
// one port are known at once, so only a broken network interface takes long.
const gatherTimeout = 5 * time.Second

// answerOffer answers a WHEP viewer's or WHIP publisher's offer on pc with
// every candidate in it (no trickle: the answer is the 201's body). The
// caller closes pc on an error.
func answerOffer(ctx context.Context, pc *webrtc.PeerConnection, offer string) (string, *httpError) {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", errorf(http.StatusBadRequest, "bad_sdp", "the offer was refused: %v", err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", errorf(http.StatusUnprocessableEntity, "bad_sdp", "no answer to this offer: %v", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", errorf(http.StatusInternalServerError, "internal", "set answer: %v", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", errorf(http.StatusServiceUnavailable, "unavailable", "the request ended before ICE gathering completed")
	case <-time.After(gatherTimeout):
		return "", errorf(http.StatusServiceUnavailable, "unavailable", "ICE gathering did not complete within %v", gatherTimeout)
	}
	return pc.LocalDescription().SDP, nil
}
