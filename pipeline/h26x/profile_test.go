package h26x

import "testing"

func TestH264ProfileName(t *testing.T) {
	tests := []struct {
		sps  []byte
		want string
	}{
		{[]byte{0x67, 66, 0xc0, 30}, "constrained-baseline"},
		{[]byte{0x67, 66, 0x00, 30}, "baseline"},
		{[]byte{0x67, 77, 0x40, 31}, "main"},
		{[]byte{0x67, 100, 0x00, 40}, "high"},
		{[]byte{0x67, 100, 0x0c, 40}, "constrained-high"},
		{[]byte{0x67, 7, 0, 0}, "profile-7"},
		{[]byte{0x67}, ""},
	}
	for _, tc := range tests {
		if got := H264Profile(tc.sps); got != tc.want {
			t.Errorf("%x: %q, want %q", tc.sps, got, tc.want)
		}
	}
}

func TestH265ProfileName(t *testing.T) {
	for idc, want := range map[uint8]string{1: "main", 2: "main-10", 3: "main-still-picture", 4: "rext", 9: "profile-9"} {
		if got := H265ProfileName(idc); got != want {
			t.Errorf("%d: %q, want %q", idc, got, want)
		}
	}
}
