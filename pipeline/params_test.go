package pipeline

import "testing"

func TestNeedsParams(t *testing.T) {
	h264 := &Track{Codec: H264, SPS: []byte{0x67, 1}, PPS: []byte{0x68, 1}}
	h265 := &Track{Codec: H265, VPS: []byte{32 << 1, 1}, SPS: []byte{33 << 1, 1}, PPS: []byte{34 << 1, 1}}
	tests := []struct {
		name string
		f    Frame
		want bool
	}{
		{"h264 keyframe without SPS", Frame{Track: h264, Key: true, NALUs: [][]byte{{0x65, 1}}}, true},
		{"h264 keyframe with SPS in-band", Frame{Track: h264, Key: true, NALUs: [][]byte{{0x67, 2}, {0x68, 2}, {0x65, 1}}}, false},
		{"h264 inter picture", Frame{Track: h264, NALUs: [][]byte{{0x41, 1}}}, false},
		{"h265 keyframe without SPS", Frame{Track: h265, Key: true, NALUs: [][]byte{{19 << 1, 1}}}, true},
		{"h265 keyframe with SPS", Frame{Track: h265, Key: true, NALUs: [][]byte{{33 << 1, 2}, {19 << 1, 1}}}, false},
		{"a track without parameter sets", Frame{Track: &Track{Codec: H264}, Key: true, NALUs: [][]byte{{0x65}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NeedsParams(&tc.f); got != tc.want {
				t.Fatalf("NeedsParams = %v, want %v", got, tc.want)
			}
		})
	}
	if got := h265.ParamSets(); len(got) != 3 || got[0][0] != 32<<1 {
		t.Fatalf("h265 ParamSets = %x", got)
	}
	if got := h264.ParamSets(); len(got) != 2 || got[0][0] != 0x67 {
		t.Fatalf("h264 ParamSets = %x", got)
	}
}
