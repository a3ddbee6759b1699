package whep

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"diemcau/pipeline"
)

// FuzzWHEPOffer takes the body of POST /whep/…: the SDP offer, from anyone
// holding a token. parseOffer and planMedia run on it before any peer
// connection exists; nothing may panic, a refusal is a 4xx (or a 503 to
// retry) with a code and a message, and an accepted offer is answered
// only with payload types the offer itself gave: the video codec on the
// first video m-line the viewer receives on, the audio one on the first
// audio m-line. Each offer is planned against a camera's feed (H.264
// constrained baseline, G.711) and a composite (H.264 high, Opus). Seeds:
// offers headless Chromium made (viewer: video and audio, video only;
// join page: sendrecv) and one from pion, as bench/whepclient sends.
func FuzzWHEPOffer(f *testing.F) {
	streams := [][]*pipeline.Track{
		{
			{Codec: pipeline.H264, SPS: []byte{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x01, 0x41, 0x9f}, PPS: []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}, Width: 320, Height: 180, FPS: 15},
			{Codec: pipeline.PCMU, SampleRate: 8000, Channels: 1},
		},
		{
			{Codec: pipeline.H264, SPS: []byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50}, PPS: []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}, Width: 1280, Height: 720, FPS: 30},
			{Codec: pipeline.Opus, SampleRate: 48000, Channels: 2},
		},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, herr := parseOffer(body)
		if herr != nil {
			checkRefusal(t, herr)
			return
		}
		for _, tracks := range streams {
			plan, herr := planMedia(o, tracks, false)
			if herr != nil {
				checkRefusal(t, herr)
				continue
			}
			if !offered(o.video, uint8(plan.video.PayloadType)) || !strings.EqualFold(plan.video.MimeType, "video/H264") {
				t.Fatalf("video answered as %s pt %d, not a payload type of the offer's video", plan.video.MimeType, plan.video.PayloadType)
			}
			if plan.audio != nil && (!o.audioOffer || !offered(o.audio, uint8(plan.audio.PayloadType))) {
				t.Fatalf("audio answered as %s pt %d, not a payload type of the offer's audio", plan.audio.MimeType, plan.audio.PayloadType)
			}
		}
	})
}

func offered(codecs []offeredCodec, pt uint8) bool {
	return slices.ContainsFunc(codecs, func(c offeredCodec) bool { return c.pt == pt })
}

func checkRefusal(t *testing.T, e *httpError) {
	t.Helper()
	if e.Code == "" || e.Message == "" || e.Status < 400 || (e.Status >= 500 && e.Status != http.StatusServiceUnavailable) {
		t.Fatalf("refusal %d %q %q", e.Status, e.Code, e.Message)
	}
}
