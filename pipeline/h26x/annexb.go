package h26x

import (
	"slices"

	"diemcau/pipeline"
)

// startCode is the four-byte form, which every parser accepts in front of
// any NAL unit (the three-byte one is not allowed before parameter sets).
var startCode = [4]byte{0, 0, 0, 1}

// AppendAnnexB appends video frame f to dst as an Annex-B byte stream, the
// form GStreamer's parsers and pion's payloader take. A keyframe whose
// access unit lacks its parameter sets gets the track's in front
// (NeedsParams). dst grows at most once.
func AppendAnnexB(dst []byte, f *pipeline.Frame) []byte {
	var params [3][]byte // not Track.ParamSets, which allocates
	if NeedsParams(f) {
		params = [3][]byte{f.Track.VPS, f.Track.SPS, f.Track.PPS}
	}
	n := 0
	for _, u := range params {
		if len(u) > 0 {
			n += len(startCode) + len(u)
		}
	}
	for _, u := range f.NALUs {
		n += len(startCode) + len(u)
	}
	dst = slices.Grow(dst, n)
	for _, u := range params {
		if len(u) > 0 {
			dst = append(append(dst, startCode[:]...), u...)
		}
	}
	for _, u := range f.NALUs {
		dst = append(append(dst, startCode[:]...), u...)
	}
	return dst
}
