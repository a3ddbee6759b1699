package main

import (
	"fmt"
	"strings"

	"diemcau/mixer"
)

// parseLowRendition reads pipeline.low_rendition: "WxH@KBPS" (e.g.
// 640x360@500), or "" / "off" for none. Every session's composite is then
// encoded a second time at that size, from the same pictures, and its WHEP
// viewers move to it when their path narrows.
func parseLowRendition(s string) (mixer.LowRendition, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "off" {
		return mixer.LowRendition{}, nil
	}
	size, kbps, ok := strings.Cut(s, "@")
	var l mixer.LowRendition
	if !ok {
		return l, fmt.Errorf("%q: want WxH@KBPS, e.g. 640x360@500, or off", s)
	}
	w, h, err := gstSize(size)
	if err != nil {
		return l, fmt.Errorf("%q: %w", s, err)
	}
	var rate int
	if _, err := fmt.Sscanf(kbps, "%d", &rate); err != nil || rate < 50 || rate > 20000 || fmt.Sprint(rate) != kbps {
		return l, fmt.Errorf("%q: bitrate %q: want kbit/s from 50 to 20000", s, kbps)
	}
	return mixer.LowRendition{Width: w, Height: h, BitrateKbps: rate}, nil
}

func gstSize(s string) (int, int, error) {
	var w, h int
	if _, err := fmt.Sscanf(s, "%dx%d", &w, &h); err != nil || fmt.Sprintf("%dx%d", w, h) != s {
		return 0, 0, fmt.Errorf("size %q: want WxH", s)
	}
	if w < 16 || h < 16 || w%2 != 0 || h%2 != 0 || w > 7680 || h > 4320 {
		return 0, 0, fmt.Errorf("size %q: want even sizes from 16x16", s)
	}
	return w, h, nil
}

// lowFor is the low rendition of a composite of width × height (0: the
// mixer's default): none when it would not be smaller.
func lowFor(low mixer.LowRendition, width, height int) mixer.LowRendition {
	if width == 0 {
		width = mixer.DefaultWidth
	}
	if height == 0 {
		height = mixer.DefaultHeight
	}
	if low.Width == 0 || low.Width >= width || low.Height >= height {
		return mixer.LowRendition{}
	}
	return low
}
