package h26x

import (
	"bytes"
	"diemcau/pipeline"
	"fmt"
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

func TestScan(t *testing.T) {
	h264 := [][]byte{{0x09, 0xf0}, {0x67, 1, 2}, {0x68, 3}, {0x65, 4}}
	h265 := [][]byte{{0x40, 1, 9}, {0x42, 1, 8}, {0x44, 1, 7}, {0x26, 1, 6}}
	tests := []struct {
		name          string
		codec         pipeline.Codec
		au            [][]byte
		vps, sps, pps []byte
		key           bool
	}{
		{"h264 keyframe with parameter sets", pipeline.H264, h264, nil, h264[1], h264[2], true},
		{"h264 picture alone", pipeline.H264, [][]byte{{0x41, 5}}, nil, nil, nil, false},
		{"h265 IRAP with parameter sets", pipeline.H265, h265, h265[0], h265[1], h265[2], true},
		{"h265 trailing picture", pipeline.H265, [][]byte{{0x02, 1, 5}}, nil, nil, nil, false},
		{"empty units", pipeline.H265, [][]byte{{}, {0x42}}, nil, nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fmt.Sprint(tt.au)
			in := Scan(tt.codec, tt.au)
			if !bytes.Equal(in.VPS, tt.vps) || !bytes.Equal(in.SPS, tt.sps) || !bytes.Equal(in.PPS, tt.pps) || in.Key != tt.key {
				t.Errorf("Scan = %+v, want vps %x sps %x pps %x key %v", in, tt.vps, tt.sps, tt.pps, tt.key)
			}
			if fmt.Sprint(tt.au) != before {
				t.Error("Scan changed the access unit")
			}
		})
	}
}
