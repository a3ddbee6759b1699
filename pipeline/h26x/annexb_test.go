package h26x

import (
	"bytes"
	"testing"

	"diemcau/pipeline"
)

func TestAppendAnnexB(t *testing.T) {
	h264 := &pipeline.Track{Codec: pipeline.H264, SPS: []byte{0x67, 1}, PPS: []byte{0x68, 2}}
	h265 := &pipeline.Track{Codec: pipeline.H265, VPS: []byte{0x40, 1}, SPS: []byte{0x42, 2}, PPS: []byte{0x44, 3}}
	sc := []byte{0, 0, 0, 1}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name  string
		frame pipeline.Frame
		want  []byte
	}{
		{"delta frame as is", pipeline.Frame{Track: h264, NALUs: [][]byte{{0x41, 9}}},
			cat(sc, []byte{0x41, 9})},
		{"keyframe with its SPS as is", pipeline.Frame{Track: h264, Key: true, NALUs: [][]byte{{0x67, 7}, {0x68, 8}, {0x65, 9}}},
			cat(sc, []byte{0x67, 7}, sc, []byte{0x68, 8}, sc, []byte{0x65, 9})},
		{"keyframe without SPS gets the track's", pipeline.Frame{Track: h264, Key: true, NALUs: [][]byte{{0x65, 9}}},
			cat(sc, []byte{0x67, 1}, sc, []byte{0x68, 2}, sc, []byte{0x65, 9})},
		{"h265 keyframe gets VPS, SPS, PPS", pipeline.Frame{Track: h265, Key: true, NALUs: [][]byte{{0x26, 9}}},
			cat(sc, []byte{0x40, 1}, sc, []byte{0x42, 2}, sc, []byte{0x44, 3}, sc, []byte{0x26, 9})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AppendAnnexB(nil, &tt.frame); !bytes.Equal(got, tt.want) {
				t.Errorf("got % x, want % x", got, tt.want)
			}
			prefix := []byte{0xaa}
			if got := AppendAnnexB(prefix, &tt.frame); !bytes.Equal(got, append(prefix, tt.want...)) {
				t.Errorf("appended: got % x", got)
			}
		})
	}
	f := &tests[2].frame
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = AppendAnnexB(buf[:0], f) }); n != 0 {
		t.Fatalf("AppendAnnexB into a large enough buffer allocates %v times", n)
	}
}
