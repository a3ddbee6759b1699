package pipeline

// NAL unit types of the sequence parameter set, the one a decoder cannot
// start without.
const (
	h264SPSType = 7
	h265SPSType = 33
)

// NALType reads the type of a NAL unit of codec c (0 for an empty unit or
// a codec without NAL units).
func NALType(c Codec, nalu []byte) byte {
	switch {
	case len(nalu) == 0:
		return 0
	case c == H264:
		return nalu[0] & 0x1f
	case c == H265:
		return (nalu[0] >> 1) & 0x3f
	}
	return 0
}

// HasSPS reports whether an access unit of codec c carries its sequence
// parameter set.
func HasSPS(c Codec, au [][]byte) bool {
	want := byte(h264SPSType)
	if c == H265 {
		want = h265SPSType
	}
	for _, u := range au {
		if len(u) > 0 && NALType(c, u) == want {
			return true
		}
	}
	return false
}

// NeedsParams is the one rule for parameter sets on the way out: a
// keyframe whose access unit lacks them gets its track's (VPS, SPS, PPS)
// in front, so a decoder can start at any keyframe, whether the camera
// sends them in-band or only in its SDP. Every writer of video (the RTSP
// re-serve, WHEP, the mixer's decoders) applies it.
func NeedsParams(f *Frame) bool {
	return f.Key && f.Track != nil && len(f.Track.SPS) > 0 && !HasSPS(f.Track.Codec, f.NALUs)
}

// ParamSets are the track's parameter sets in decoding order (VPS for
// H.265, then SPS and PPS), the empty ones left out.
func (t *Track) ParamSets() [][]byte {
	out := make([][]byte, 0, 3)
	for _, p := range [][]byte{t.VPS, t.SPS, t.PPS} {
		if len(p) > 0 {
			out = append(out, p)
		}
	}
	return out
}
