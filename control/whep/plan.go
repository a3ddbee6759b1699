package whep

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/webrtc/v4"

	"diemcau/pipeline"
	"diemcau/pipeline/h26x"
)

// H.264 profile_idc values.
const (
	profileBaseline = 66
	profileMain     = 77
	profileHigh     = 100
)

// mediaPlan is what a viewer will be sent: one codec per kind, with the
// offer's payload type, matched to the stream's tracks.
type mediaPlan struct {
	video      webrtc.RTPCodecParameters
	videoTrack *pipeline.Track
	audio      *webrtc.RTPCodecParameters // nil: video only
	audioTrack *pipeline.Track
}

// planMedia matches the stream's tracks against the offer. It refuses,
// naming the reason, a feed browsers cannot play: diemcau passes single feeds
// through untouched and transcodes only the composite, so a camera in H.265,
// with B-frames or with AAC audio is for the RTSP re-serve and the mixer,
// not for browsers.
func planMedia(o *offer, tracks []*pipeline.Track, bframes bool) (*mediaPlan, *httpError) {
	var vt, at *pipeline.Track
	for _, t := range tracks {
		switch {
		case t.Kind() == pipeline.Video && vt == nil:
			vt = t
		case t.Kind() == pipeline.Audio && at == nil:
			at = t
		}
	}
	if vt == nil {
		e := errorf(http.StatusServiceUnavailable, "no_video", "the stream has no video yet; try again in a few seconds")
		e.RetryAfter = 2
		return nil, e
	}
	p := &mediaPlan{videoTrack: vt}
	var herr *httpError
	if p.video, herr = planVideo(o.video, vt, bframes); herr != nil {
		return nil, herr
	}
	if at != nil && o.audioOffer {
		if p.audio, herr = planAudio(o.audio, at); herr != nil {
			return nil, herr
		}
		p.audioTrack = at
	}
	return p, nil
}

func planVideo(offered []offeredCodec, t *pipeline.Track, bframes bool) (webrtc.RTPCodecParameters, *httpError) {
	var none webrtc.RTPCodecParameters
	switch t.Codec {
	case pipeline.H264:
	case pipeline.H265:
		return none, errorf(http.StatusUnprocessableEntity, "unplayable",
			"the feed is H.265, which browsers do not play over WebRTC; watch the session composite, or set the camera to H.264")
	default:
		return none, errorf(http.StatusUnprocessableEntity, "unplayable", "the feed's video codec %q cannot be played in a browser", t.Codec)
	}
	if len(t.SPS) < 4 {
		e := errorf(http.StatusServiceUnavailable, "no_video", "the stream has not sent its H.264 parameters (SPS) yet; try again in a few seconds")
		e.RetryAfter = 2
		return none, e
	}
	if bframes || spsAllowsReorder(t.SPS) {
		return none, errorf(http.StatusUnprocessableEntity, "unplayable",
			"the feed uses B-frames, which WebRTC cannot carry in order; set the camera's encoder to no B-frames (baseline or main profile with GOP type IP), or watch the session composite")
	}
	idc, iop, level := t.SPS[1], t.SPS[2], t.SPS[3]
	var best *offeredCodec
	bestRank := 0
	var seen []string
	for i := range offered {
		c := &offered[i]
		if c.name != "H264" || c.clock != 90000 {
			continue
		}
		plid := c.fmtp["profile-level-id"]
		if plid == "" {
			plid = "42001f" // RFC 6184's default: baseline 1.0 (here any level)
		}
		seen = append(seen, plid)
		if c.fmtp["packetization-mode"] != "1" {
			continue // mode 0 cannot fragment, and keyframes are larger than a packet
		}
		b, err := hex.DecodeString(plid)
		if err != nil || len(b) != 3 {
			continue
		}
		if r := profileRank(idc, iop, b[0], b[1]); r > bestRank {
			best, bestRank = c, r
		}
	}
	if best == nil {
		if len(seen) == 0 {
			return none, errorf(http.StatusUnprocessableEntity, "codec_mismatch", "the offer has no H.264 (packetization-mode=1) for video; the feed is H.264 %s", h26x.H264ProfileName(idc, iop))
		}
		return none, errorf(http.StatusUnprocessableEntity, "codec_mismatch",
			"the browser accepts H.264 profile-level-id %s, none of which decodes the feed's %s (%02x%02x%02x)",
			strings.Join(seen, ", "), h26x.H264ProfileName(idc, iop), idc, iop, level)
	}
	b, _ := hex.DecodeString(best.fmtp["profile-level-id"])
	if len(b) != 3 {
		b = []byte{0x42, 0x00, 0x1f}
	}
	// The profile is the offer's (RFC 6184 wants it symmetric); the level
	// is the stream's, which level-asymmetry-allowed lets a sender declare.
	lvl := level
	if best.fmtp["level-asymmetry-allowed"] != "1" {
		lvl = b[2]
	}
	fmtp := fmt.Sprintf("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=%02x%02x%02x", b[0], b[1], lvl)
	if best.fmtp["level-asymmetry-allowed"] != "1" {
		fmtp = fmt.Sprintf("packetization-mode=1;profile-level-id=%02x%02x%02x", b[0], b[1], lvl)
	}
	return webrtc.RTPCodecParameters{
		PayloadType: webrtc.PayloadType(best.pt),
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType:    webrtc.MimeTypeH264,
			ClockRate:   90000,
			SDPFmtpLine: fmtp,
			// goog-remb without transport-cc: the browser estimates the
			// bandwidth itself and reports it (REMB), which moves the
			// viewer between renditions (ladder.go) with no per-packet
			// work here.
			RTCPFeedback: []webrtc.RTCPFeedback{
				{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, {Type: "goog-remb"},
			},
		},
	}, nil
}

// highLadder orders the profiles whose decoders each decode every profile
// before them (H.264 annex A): main ⊂ high ⊂ high 10 ⊂ high 4:2:2 ⊂
// high 4:4:4 predictive. Chromium 156, for one, offers 42001f, 42e01f, 4d001f
// and f4001f but not 64001f: a high-profile feed goes out as f400xx.
var highLadder = map[byte]int{profileMain: 1, profileHigh: 2, 110: 3, 122: 4, 244: 5}

// profileRank says how well an offered profile fits the stream's: 100 the
// same profile and constraint flags, 90 the same profile, less for a
// superset profile whose decoders also decode the stream (the nearer the
// better), 0 no fit.
func profileRank(streamIdc, streamIop, offIdc, offIop byte) int {
	if offIdc == streamIdc {
		if offIop == streamIop {
			return 100
		}
		return 90
	}
	off, ok := highLadder[offIdc]
	if !ok {
		return 0
	}
	// Constrained baseline (constraint_set1) is inside main and so inside
	// every rung above it.
	if streamIdc == profileBaseline && streamIop&0x40 != 0 {
		return 50 - off
	}
	if st, ok := highLadder[streamIdc]; ok && off > st {
		return 50 - (off - st)
	}
	return 0
}

// spsAllowsReorder reads whether the SPS promises frames out of order. The
// baseline profile has no B-frames; other profiles say so only when the
// encoder writes VUI bitstream restrictions (most do); otherwise the
// broadcaster notices time going back and ends the viewers.
func spsAllowsReorder(nalu []byte) bool {
	if len(nalu) > 1 && nalu[1] == profileBaseline {
		return false
	}
	var sps h264.SPS
	if err := sps.Unmarshal(nalu); err != nil {
		return false
	}
	if sps.VUI != nil && sps.VUI.BitstreamRestriction != nil {
		return sps.VUI.BitstreamRestriction.MaxNumReorderFrames > 0
	}
	return false
}

func planAudio(offered []offeredCodec, t *pipeline.Track) (*webrtc.RTPCodecParameters, *httpError) {
	var want, mime string
	var clock, channels int
	switch t.Codec {
	case pipeline.Opus:
		want, mime, clock, channels = "OPUS", webrtc.MimeTypeOpus, 48000, 2
	case pipeline.PCMU:
		want, mime, clock = "PCMU", webrtc.MimeTypePCMU, 8000
	case pipeline.PCMA:
		want, mime, clock = "PCMA", webrtc.MimeTypePCMA, 8000
	case pipeline.AAC:
		return nil, errorf(http.StatusUnprocessableEntity, "unplayable",
			"the feed's audio is AAC, which browsers do not play over WebRTC; set the camera's audio to G.711 or Opus, watch the session composite, or offer video only (no audio m-line)")
	default:
		return nil, errorf(http.StatusUnprocessableEntity, "unplayable", "the feed's audio codec %q cannot be played in a browser", t.Codec)
	}
	if (t.Codec == pipeline.PCMU || t.Codec == pipeline.PCMA) && t.SampleRate != 0 && t.SampleRate != 8000 {
		return nil, errorf(http.StatusUnprocessableEntity, "unplayable", "the feed's G.711 audio runs at %d Hz; browsers play it only at 8000 Hz", t.SampleRate)
	}
	for _, c := range offered {
		if c.name != want || c.clock != clock {
			continue
		}
		fmtp := ""
		if t.Codec == pipeline.Opus {
			fmtp = "minptime=10;useinbandfec=1"
		}
		return &webrtc.RTPCodecParameters{
			PayloadType: webrtc.PayloadType(c.pt),
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: mime, ClockRate: uint32(clock), Channels: uint16(channels), SDPFmtpLine: fmtp,
			},
		}, nil
	}
	return nil, errorf(http.StatusUnprocessableEntity, "codec_mismatch",
		"the feed's audio is %s, which the offer does not accept; offer %s/%d or no audio m-line", t.Codec, want, clock)
}
