package h26x

import (
	"testing"

	"diemcau/pipeline"
)

func TestNeedsParams(t *testing.T) {
	h264 := &pipeline.Track{Codec: pipeline.H264, SPS: []byte{0x67, 1}, PPS: []byte{0x68, 1}}
	h265 := &pipeline.Track{Codec: pipeline.H265, VPS: []byte{32 << 1, 1}, SPS: []byte{33 << 1, 1}, PPS: []byte{34 << 1, 1}}
	tests := []struct {
		name string
		f    pipeline.Frame
		want bool
	}{
		{"h264 keyframe without SPS", pipeline.Frame{Track: h264, Key: true, NALUs: [][]byte{{0x65, 1}}}, true},
		{"h264 keyframe with SPS in-band", pipeline.Frame{Track: h264, Key: true, NALUs: [][]byte{{0x67, 2}, {0x68, 2}, {0x65, 1}}}, false},
		{"h264 inter picture", pipeline.Frame{Track: h264, NALUs: [][]byte{{0x41, 1}}}, false},
		{"h265 keyframe without SPS", pipeline.Frame{Track: h265, Key: true, NALUs: [][]byte{{19 << 1, 1}}}, true},
		{"h265 keyframe with SPS", pipeline.Frame{Track: h265, Key: true, NALUs: [][]byte{{33 << 1, 2}, {19 << 1, 1}}}, false},
		{"a track without parameter sets", pipeline.Frame{Track: &pipeline.Track{Codec: pipeline.H264}, Key: true, NALUs: [][]byte{{0x65}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NeedsParams(&tc.f); got != tc.want {
				t.Fatalf("NeedsParams = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNALTypes(t *testing.T) {
	tests := []struct {
		name             string
		codec            pipeline.Codec
		nalu             []byte
		typ              byte
		random, sps, aud bool
	}{
		{"h264 IDR", pipeline.H264, []byte{0x65, 1}, H264IDR, true, false, false},
		{"h264 non-IDR slice", pipeline.H264, []byte{0x41, 1}, 1, false, false, false},
		{"h264 SPS", pipeline.H264, []byte{0x67, 1}, H264SPS, false, true, false},
		{"h264 AUD", pipeline.H264, []byte{0x09, 0xf0}, H264AUD, false, false, true},
		{"h265 BLA_W_LP", pipeline.H265, []byte{16 << 1, 1}, H265BLAWLP, true, false, false},
		{"h265 IDR_W_RADL", pipeline.H265, []byte{19 << 1, 1}, H265IDRWRADL, true, false, false},
		{"h265 CRA", pipeline.H265, []byte{21 << 1, 1}, H265CRA, true, false, false},
		{"h265 reserved IRAP 22 is not one", pipeline.H265, []byte{22 << 1, 1}, 22, false, false, false},
		{"h265 SPS", pipeline.H265, []byte{33 << 1, 1}, H265SPS, false, true, false},
		{"h265 AUD", pipeline.H265, []byte{35 << 1, 1}, H265AUD, false, false, true},
		{"empty", pipeline.H264, nil, 0, false, false, false},
		{"not a NAL codec", pipeline.Opus, []byte{0x65}, 0, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			typ := Type(tc.codec, tc.nalu)
			if typ != tc.typ {
				t.Fatalf("type %d, want %d", typ, tc.typ)
			}
			if tc.codec == pipeline.Opus {
				return
			}
			if got := IsRandomAccess(tc.codec, typ); got != tc.random {
				t.Errorf("IsRandomAccess %v", got)
			}
			if got := IsSPS(tc.codec, typ); got != tc.sps {
				t.Errorf("IsSPS %v", got)
			}
			if got := IsAUD(tc.codec, typ); got != tc.aud {
				t.Errorf("IsAUD %v", got)
			}
		})
	}
}
