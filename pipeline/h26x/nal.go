// Package h26x is diemcau's one reading and writing of the H.264 and H.265
// bitstreams below the container: NAL unit types, the parameter-set rule
// for keyframes, Annex-B byte streams, profile names, and the RTP payload
// layout (RFC 6184 packetization-mode 1, RFC 7798) that the RTSP re-serve
// and WHEP both packetise with. It is pure Go and allocates nothing per
// frame on the paths that run once per frame.
package h26x

import "diemcau/pipeline"

// H.264 NAL unit types (ITU-T H.264 table 7-1, RFC 6184 §5.2).
const (
	H264IDR   = 5
	H264SEI   = 6
	H264SPS   = 7
	H264PPS   = 8
	H264AUD   = 9
	H264STAPA = 24
	H264FUA   = 28
)

// H.265 NAL unit types (ITU-T H.265 table 7-1, RFC 7798 §4.4).
const (
	H265BLAWLP   = 16 // first IRAP type
	H265IDRWRADL = 19
	H265CRA      = 21 // last IRAP type
	H265VPS      = 32
	H265SPS      = 33
	H265PPS      = 34
	H265AUD      = 35
	H265AP       = 48
	H265FU       = 49
)

// HeaderLen is the length of a NAL unit header: 1 byte for H.264, 2 for
// H.265.
func HeaderLen(c pipeline.Codec) int {
	if c == pipeline.H265 {
		return 2
	}
	return 1
}

// Type reads the type of a NAL unit of codec c (0 for an empty unit or a
// codec without NAL units).
func Type(c pipeline.Codec, nalu []byte) byte {
	switch {
	case len(nalu) == 0:
		return 0
	case c == pipeline.H264:
		return nalu[0] & 0x1f
	case c == pipeline.H265:
		return (nalu[0] >> 1) & 0x3f
	}
	return 0
}

// IsRandomAccess reports a NAL unit type a decoder can start at: an IDR
// picture in H.264, an intra random access point (BLA, IDR, CRA) in H.265.
func IsRandomAccess(c pipeline.Codec, typ byte) bool {
	if c == pipeline.H265 {
		return typ >= H265BLAWLP && typ <= H265CRA
	}
	return typ == H264IDR
}

// IsSPS reports the type of the sequence parameter set, the one a decoder
// cannot start without.
func IsSPS(c pipeline.Codec, typ byte) bool {
	if c == pipeline.H265 {
		return typ == H265SPS
	}
	return typ == H264SPS
}

// IsAUD reports an access unit delimiter, which means nothing outside a
// byte stream.
func IsAUD(c pipeline.Codec, typ byte) bool {
	if c == pipeline.H265 {
		return typ == H265AUD
	}
	return typ == H264AUD
}

// HasSPS reports whether an access unit of codec c carries its sequence
// parameter set.
func HasSPS(c pipeline.Codec, au [][]byte) bool {
	for _, u := range au {
		if len(u) > 0 && IsSPS(c, Type(c, u)) {
			return true
		}
	}
	return false
}

// NeedsParams is the one rule for parameter sets on the way out: a
// keyframe whose access unit lacks them gets its track's (VPS, SPS, PPS)
// in front, so a decoder can start at any keyframe, whether the camera
// sends them in-band or only in its SDP. Every writer of video (the RTSP
// re-serve, WHEP, WHIP out, the mixer's decoders) applies it.
func NeedsParams(f *pipeline.Frame) bool {
	return f.Key && f.Track != nil && len(f.Track.SPS) > 0 && !HasSPS(f.Track.Codec, f.NALUs)
}
