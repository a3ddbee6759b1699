package pipeline

import "testing"

func TestParamSets(t *testing.T) {
	h264 := &Track{Codec: H264, SPS: []byte{0x67, 1}, PPS: []byte{0x68, 1}}
	h265 := &Track{Codec: H265, VPS: []byte{32 << 1, 1}, SPS: []byte{33 << 1, 1}, PPS: []byte{34 << 1, 1}}
	if got := h265.ParamSets(); len(got) != 3 || got[0][0] != 32<<1 {
		t.Fatalf("h265 ParamSets = %x", got)
	}
	if got := h264.ParamSets(); len(got) != 2 || got[0][0] != 0x67 {
		t.Fatalf("h264 ParamSets = %x", got)
	}
}
