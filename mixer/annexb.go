package mixer

import "diemcau/pipeline"

// annexB writes a video access unit as the byte stream the parsers take. A
// keyframe whose AU lacks its parameter sets gets them from the track, so a
// decoder can start at any keyframe (some cameras send SPS/PPS only in SDP).
func annexB(f *pipeline.Frame) []byte {
	var params [][]byte
	if f.Key && f.Track != nil && !hasParams(f) {
		for _, p := range [][]byte{f.Track.VPS, f.Track.SPS, f.Track.PPS} {
			if len(p) > 0 {
				params = append(params, p)
			}
		}
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

// hasParams reports whether the AU carries an SPS (H.264 type 7, H.265 33).
func hasParams(f *pipeline.Frame) bool {
	for _, u := range f.NALUs {
		if len(u) == 0 {
			continue
		}
		switch f.Track.Codec {
		case pipeline.H264:
			if u[0]&0x1f == 7 {
				return true
			}
		case pipeline.H265:
			if (u[0]>>1)&0x3f == 33 {
				return true
			}
		}
	}
	return false
}
