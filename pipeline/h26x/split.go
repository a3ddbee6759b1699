package h26x

import "diemcau/pipeline"

// InBand is what an access unit carried besides its pictures: parameter
// sets (nil when absent) and whether a decoder can start at it.
type InBand struct {
	VPS, SPS, PPS []byte // VPS: H.265 only
	Key           bool
}

// SplitH264 takes the parameter sets and delimiters out of an H.264
// access unit, in place (no allocation): sources put the current
// parameter sets back in front of every keyframe themselves, so whether a
// camera sends them in-band or only in its SDP, every keyframe can start
// a decoder. Key is an IDR picture.
func SplitH264(au [][]byte) ([][]byte, InBand) {
	var in InBand
	n := 0
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		switch Type(pipeline.H264, nalu) {
		case H264SPS:
			in.SPS = nalu
			continue
		case H264PPS:
			in.PPS = nalu
			continue
		case H264AUD:
			continue
		case H264IDR:
			in.Key = true
		}
		au[n] = nalu
		n++
	}
	return au[:n], in
}

// SplitH265 is SplitH264 for H.265; Key is an IRAP picture.
func SplitH265(au [][]byte) ([][]byte, InBand) {
	var in InBand
	n := 0
	for _, nalu := range au {
		if len(nalu) < 2 {
			continue
		}
		switch typ := Type(pipeline.H265, nalu); typ {
		case H265VPS:
			in.VPS = nalu
			continue
		case H265SPS:
			in.SPS = nalu
			continue
		case H265PPS:
			in.PPS = nalu
			continue
		case H265AUD:
			continue
		default:
			in.Key = in.Key || IsRandomAccess(pipeline.H265, typ)
		}
		au[n] = nalu
		n++
	}
	return au[:n], in
}

// Scan reads what an access unit of codec c carries in band without
// changing it: its parameter sets (the last of each kind) and whether a
// decoder can start at it.
func Scan(c pipeline.Codec, au [][]byte) InBand {
	var in InBand
	for _, nalu := range au {
		if len(nalu) < HeaderLen(c) {
			continue
		}
		switch typ := Type(c, nalu); {
		case c == pipeline.H265 && typ == H265VPS:
			in.VPS = nalu
		case IsSPS(c, typ):
			in.SPS = nalu
		case c == pipeline.H264 && typ == H264PPS, c == pipeline.H265 && typ == H265PPS:
			in.PPS = nalu
		default:
			in.Key = in.Key || IsRandomAccess(c, typ)
		}
	}
	return in
}
