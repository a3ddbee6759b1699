package mixer

import "diemcau/pipeline"

// annexB writes a video access unit as the byte stream the parsers take. A
// keyframe whose AU lacks its parameter sets gets them from the track, so a
// decoder can start at any keyframe (some cameras send SPS/PPS only in SDP).
func annexB(f *pipeline.Frame) []byte {
	var params [][]byte
	if pipeline.NeedsParams(f) {
		params = f.Track.ParamSets()
	}
	n := 0
	for _, u := range params {
		n += 4 + len(u)
	}
	for _, u := range f.NALUs {
		n += 4 + len(u)
	}
	out := make([]byte, 0, n)
	for _, list := range [][][]byte{params, f.NALUs} {
		for _, u := range list {
			out = append(out, 0, 0, 0, 1)
			out = append(out, u...)
		}
	}
	return out
}
