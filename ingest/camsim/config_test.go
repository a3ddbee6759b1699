package camsim

import (
	"testing"
	"time"

	"diemcau/internal/testkit"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"defaults", Config{}, ""},
		{"too many cameras", Config{Cameras: 5000}, "cameras"},
		{"odd width", Config{Width: 1279, Height: 720}, "size"},
		{"fps", Config{FPS: 500}, "fps"},
		{"audio codec", Config{AudioCodec: "mp3"}, "audio_codec"},
		{"mtu", Config{MTU: 9000}, "mtu"},
		{"negative drop", Config{DropAfter: -time.Second}, "drop_after"},
		{"one udp address", Config{UDPRTPAddress: ":8000"}, "udp_rtcp_address"},
		{"password without user", Config{Pass: "x"}, "user"},
		{"the avsync pattern", Config{Pattern: PatternAVSync}, ""},
		{"an unknown pattern", Config{Pattern: "smpte"}, "pattern"},
		{"the pattern is replayed, not live", Config{Pattern: PatternAVSync, Live: true}, "pattern"},
		{"a sub-stream", Config{SubWidth: 640, SubHeight: 360}, ""},
		{"a sub-stream of odd size", Config{SubWidth: 641, SubHeight: 360}, "sub_size"},
		{"a sub-stream width alone", Config{SubWidth: 640}, "sub_size"},
		{"a live sub-stream", Config{SubWidth: 640, SubHeight: 360, Live: true}, "sub_size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, nil)
			testkit.WantFieldErr(t, err, tc.field)
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		w, h int
		ok   bool
	}{
		{"1280x720", 1280, 720, true},
		{"320X180", 320, 180, true},
		{" 640x360 ", 640, 360, true},
		{"1280", 0, 0, false},
		{"x720", 0, 0, false},
		{"-2x4", 0, 0, false},
		{"axb", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			w, h, err := ParseSize(tc.in)
			if (err == nil) != tc.ok || w != tc.w || h != tc.h {
				t.Fatalf("got %dx%d, %v", w, h, err)
			}
		})
	}
}

func TestPatternToneHz(t *testing.T) {
	for cam, want := range map[int]float64{1: 1000, 2: 1100, 16: 2500, 17: 1000, 0: 1000} {
		if got := PatternToneHz(cam); got != want {
			t.Errorf("cam%d: %v Hz, want %v", cam, got, want)
		}
	}
}
