package whep

import (
	"net/http"
	"sort"
	"strings"

	"github.com/pion/webrtc/v4"
)

// whipSupported is what a WHIP publisher is told when its offer has none
// of it. VP8 is not taken: the mixer, the archive and the re-serve are
// built on H.264, and carrying VP8 end to end would cost a transcode per
// point (see README, WHIP ingest).
const whipSupported = "this server takes H.264 video (constrained baseline or main, packetization-mode=1, no B-frames) with optional Opus audio"

// whipOffer is what the server needs of a WHIP offer.
type whipOffer struct {
	sdp   string
	video offeredCodec
	audio *offeredCodec // nil: no audio sent
}

// parseWHIPOffer checks a publisher's offer before anything is made:
// an SDP with ICE credentials and a fingerprint, a video m-line it sends
// on with H.264 packetization-mode 1, and Opus on its audio m-line if any.
func parseWHIPOffer(body []byte) (*whipOffer, *httpError) {
	sd, herr := unmarshalOffer(body)
	if herr != nil {
		return nil, herr
	}
	o := &whipOffer{sdp: string(body)}
	var video, audio []offeredCodec
	var sawVideo, sawAudio bool
	for _, md := range sd.MediaDescriptions {
		if sends, _ := direction(md); md.MediaName.Port.Value == 0 || !sends {
			continue
		}
		switch md.MediaName.Media {
		case "video":
			if !sawVideo {
				sawVideo, video = true, codecsOf(md)
			}
		case "audio":
			if !sawAudio {
				sawAudio, audio = true, codecsOf(md)
			}
		}
	}
	if !sawVideo {
		return nil, errorf(http.StatusBadRequest, "no_video", "the offer sends no video (a video m-line with a=sendonly or a=sendrecv): %s", whipSupported)
	}
	v, ok := pickH264(video)
	if !ok {
		return nil, errorf(http.StatusUnsupportedMediaType, "unsupported_codec", "the offer's video is %s: %s", codecNames(video), whipSupported)
	}
	o.video = v
	if sawAudio {
		for _, c := range audio {
			if c.name == "OPUS" && c.clock == 48000 {
				o.audio = &c
				break
			}
		}
		if o.audio == nil {
			return nil, errorf(http.StatusUnsupportedMediaType, "unsupported_codec", "the offer's audio is %s: %s", codecNames(audio), whipSupported)
		}
	}
	return o, nil
}

// pickH264 chooses the offer's H.264 in packetization-mode 1: constrained
// baseline first (every browser encodes it, in hardware too), then
// baseline, then main. High profile may carry B-frames, which the mixer's
// low-latency path does not take.
func pickH264(codecs []offeredCodec) (offeredCodec, bool) {
	rank := func(c offeredCodec) int {
		if c.name != "H264" || c.clock != 90000 || c.fmtp["packetization-mode"] != "1" {
			return -1
		}
		pl := strings.ToLower(c.fmtp["profile-level-id"])
		switch {
		case pl == "" || strings.HasPrefix(pl, "42e0"):
			return 3
		case strings.HasPrefix(pl, "42"):
			return 2
		case strings.HasPrefix(pl, "4d"):
			return 1
		}
		return -1
	}
	best, bestRank := offeredCodec{}, -1
	for _, c := range codecs {
		if r := rank(c); r > bestRank {
			best, bestRank = c, r
		}
	}
	return best, bestRank >= 0
}

func codecNames(codecs []offeredCodec) string {
	seen := map[string]bool{}
	var names []string
	for _, c := range codecs {
		n := c.name
		switch n {
		case "RTX", "RED", "ULPFEC", "FLEXFEC-03", "CN", "TELEPHONE-EVENT":
			continue
		case "H264":
			n = "H.264 " + c.fmtp["profile-level-id"] + " packetization-mode=" + c.fmtp["packetization-mode"]
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// fmtpLine writes a codec's fmtp back, in a stable order.
func fmtpLine(c offeredCodec) string {
	keys := make([]string, 0, len(c.fmtp))
	for k := range c.fmtp {
		if k != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+c.fmtp[k])
	}
	return strings.Join(parts, ";")
}

// whipCodecs are the codecs the publisher's peer connection takes: the
// offer's own payload types, so pion's answer matches them exactly, and
// the feedback that makes a browser repair and adapt its stream: NACK,
// PLI/FIR, transport-wide congestion control.
func whipCodecs(o *whipOffer) (video webrtc.RTPCodecParameters, audio *webrtc.RTPCodecParameters) {
	video = webrtc.RTPCodecParameters{
		PayloadType: webrtc.PayloadType(o.video.pt),
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: fmtpLine(o.video),
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, {Type: webrtc.TypeRTCPFBTransportCC}},
		},
	}
	if o.audio != nil {
		audio = &webrtc.RTPCodecParameters{
			PayloadType: webrtc.PayloadType(o.audio.pt),
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: fmtpLine(*o.audio),
				RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}},
			},
		}
	}
	return video, audio
}
