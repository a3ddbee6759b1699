package main

import (
	"testing"

	"diemcau/mixer"
)

func TestParseLowRendition(t *testing.T) {
	cases := []struct {
		in   string
		want mixer.LowRendition
		bad  bool
	}{
		{"", mixer.LowRendition{}, false},
		{"off", mixer.LowRendition{}, false},
		{"640x360@500", mixer.LowRendition{Width: 640, Height: 360, BitrateKbps: 500}, false},
		{" 320x180@200 ", mixer.LowRendition{Width: 320, Height: 180, BitrateKbps: 200}, false},
		{"640x360", mixer.LowRendition{}, true},
		{"641x360@500", mixer.LowRendition{}, true},
		{"640x360@5", mixer.LowRendition{}, true},
		{"640x360@500k", mixer.LowRendition{}, true},
		{"axb@500", mixer.LowRendition{}, true},
	}
	for _, c := range cases {
		got, err := parseLowRendition(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("parseLowRendition(%q) = %+v, %v; want %+v, bad %v", c.in, got, err, c.want, c.bad)
		}
	}
	low := mixer.LowRendition{Width: 640, Height: 360, BitrateKbps: 500}
	if got := lowFor(low, 1280, 720); got != low {
		t.Errorf("720p output: low %+v", got)
	}
	if got := lowFor(low, 0, 0); got != low {
		t.Errorf("the default output: low %+v", got)
	}
	if got := lowFor(low, 640, 360); got.Width != 0 {
		t.Errorf("a 640x360 output got a low rendition %+v", got)
	}
}
