package h26x

import (
	"testing"
)

func TestSplitInBand(t *testing.T) {
	var (
		sps264, pps264, aud264 = []byte{0x67, 1}, []byte{0x68, 2}, []byte{0x09, 0xf0}
		idr264, p264           = []byte{0x65, 3}, []byte{0x41, 4}
		vps265, sps265, pps265 = []byte{32 << 1, 1}, []byte{33 << 1, 1}, []byte{34 << 1, 1}
		aud265, cra265, tr265  = []byte{35 << 1, 1}, []byte{21 << 1, 1}, []byte{1 << 1, 1}
	)
	tests := []struct {
		name          string
		split         func([][]byte) ([][]byte, InBand)
		au            [][]byte
		wantPics      int
		wantKey       bool
		vps, sps, pps []byte
	}{
		{"h264 keyframe with params", SplitH264, [][]byte{aud264, sps264, pps264, idr264}, 1, true, nil, sps264, pps264},
		{"h264 inter picture", SplitH264, [][]byte{p264, {}}, 1, false, nil, nil, nil},
		{"h264 params only", SplitH264, [][]byte{sps264, pps264}, 0, false, nil, sps264, pps264},
		{"h265 CRA with params", SplitH265, [][]byte{aud265, vps265, sps265, pps265, cra265}, 1, true, vps265, sps265, pps265},
		{"h265 trailing picture, a runt NAL", SplitH265, [][]byte{tr265, {0x02}}, 1, false, nil, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pics, in := tc.split(append([][]byte(nil), tc.au...))
			if len(pics) != tc.wantPics || in.Key != tc.wantKey {
				t.Fatalf("%d pictures key %v, want %d key %v", len(pics), in.Key, tc.wantPics, tc.wantKey)
			}
			for _, p := range [][2][]byte{{in.VPS, tc.vps}, {in.SPS, tc.sps}, {in.PPS, tc.pps}} {
				if string(p[0]) != string(p[1]) {
					t.Fatalf("parameter set %x, want %x", p[0], p[1])
				}
			}
		})
	}
	au := [][]byte{aud264, sps264, pps264, idr264}
	if n := testing.AllocsPerRun(100, func() { SplitH264(au[:4:4]) }); n != 0 {
		t.Fatalf("SplitH264 allocates %v times per access unit", n)
	}
}
