package testclip

import (
	"slices"
	"testing"
)

// TestEncode encodes one clip of each kind the tests use and checks what
// it reads back: a frame each 1/FPS second, a keyframe exactly each GOP
// carrying its parameter sets, B-frames where asked, and the audio
// packets a clip of that length holds.
func TestEncode(t *testing.T) {
	cases := []struct {
		name    string
		spec    Spec
		packets int // audio packets expected, within slack
		slack   int
	}{
		{"h264 aac", Spec{Audio: AAC}, 2 * 48000 / 1024, 3},
		{"h264 b-frames opus mono", Spec{BFrames: true, GOP: 10, Kbps: 300, Audio: Opus}, 100, 2},
		{"browser baseline capped opus stereo", Spec{FPS: 15, GOP: 30, Baseline: true, Kbps: 300, Rate: Capped, Audio: Opus, Stereo: true, ToneHz: 660}, 100, 2},
		{"h264 cbr", Spec{Kbps: 400, Rate: CBR}, 0, 0},
		{"h264 capped half-second buffer", Spec{Kbps: 400, Rate: Capped, BufferKbps: 200}, 0, 0},
		{"h265 b-frames pcmu", Spec{HEVC: true, BFrames: true, Preset: "ultrafast", Audio: PCMU}, 100, 0},
		{"h265 open gop", Spec{HEVC: true, BFrames: true, OpenGOP: true, GOP: 10}, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Load(t, tc.spec)
			s := c.Spec
			if n := s.FPS * s.Seconds; len(c.AUs) != n || len(c.Keys) != n || len(c.PTS) != n {
				t.Fatalf("%d access units, %d keys, %d timestamps; want %d", len(c.AUs), len(c.Keys), len(c.PTS), n)
			}
			step := int64(90000 / s.FPS)
			reordered := false
			for i, au := range c.AUs {
				if want := i%s.GOP == 0; c.Keys[i] != want {
					t.Errorf("frame %d: key %v, want %v", i, c.Keys[i], want)
				}
				_, sps, pps := ParamSets(au, s.HEVC)
				if c.Keys[i] && (sps == nil || pps == nil) {
					t.Errorf("keyframe %d without its parameter sets", i)
				}
				if c.DTS[i] != int64(i)*step {
					t.Errorf("frame %d: dts %d, want %d", i, c.DTS[i], int64(i)*step)
				}
				reordered = reordered || c.PTS[i] != c.DTS[i]+c.PTS[0]
			}
			if reordered != s.BFrames {
				t.Errorf("presentation order differs from decode order: %v, B-frames %v", reordered, s.BFrames)
			}
			pts := slices.Sorted(slices.Values(c.PTS))
			for i := 1; i < len(pts); i++ {
				if pts[i]-pts[i-1] != step {
					t.Fatalf("pts %d after %d: not one frame apart", pts[i], pts[i-1])
				}
			}
			for _, au := range c.OutOfBand() {
				if v, sps, pps := ParamSets(au, s.HEVC); v != nil || sps != nil || pps != nil {
					t.Fatal("OutOfBand left a parameter set in")
				}
			}
			if s.HEVC != (c.VPS != nil) {
				t.Errorf("VPS %x for HEVC %v", c.VPS, s.HEVC)
			}
			if n := len(c.Packets); n < tc.packets-tc.slack || n > tc.packets+tc.slack {
				t.Errorf("%d audio packets, want %d±%d", n, tc.packets, tc.slack)
			}
			wantCh := 1
			if s.Stereo {
				wantCh = 2
			}
			if s.Audio != NoAudio && c.Channels != wantCh {
				t.Errorf("%d channels, want %d", c.Channels, wantCh)
			}
			if s.Audio == AAC && (c.AAC == nil || c.SampleRate != 48000) {
				t.Errorf("AAC config %+v, sample rate %d", c.AAC, c.SampleRate)
			}
		})
	}
}

// TestLoadCaches checks that a spec is encoded once per process, whether
// its defaults are spelled out or not.
func TestLoadCaches(t *testing.T) {
	a := Load(t, Spec{})
	b := Load(t, Spec{Width: 320, Height: 180, FPS: 25, Seconds: 2, GOP: 25})
	if a != b {
		t.Error("the same spec encoded twice")
	}
}
