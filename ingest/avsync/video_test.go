package avsync

import (
	"slices"
	"testing"
	"time"
)

func TestFindFlashes(t *testing.T) {
	const fps = 30
	frame := time.Second / fps
	fade := func() []Picture {
		var out []Picture
		for i := range 60 {
			out = append(out, picture(time.Duration(i)*frame, uint8(i*4), 0, 0, 0, 0, 0))
		}
		return out
	}
	tests := []struct {
		name string
		pics []Picture
		want []time.Duration
		rect Rect // of the first flash
	}{
		{
			name: "whole-picture pattern",
			pics: patternPictures(fps, 3, 0, whole),
			want: []time.Duration{time.Second, 2 * time.Second}, // the first picture has nothing before it
			rect: Rect{W: 1, H: 1},
		},
		{
			name: "one tile of a 2x2 composite, from 0.5 s",
			pics: patternPictures(fps, 3, 500*time.Millisecond, [4]int{16, 0, 32, 9}),
			want: []time.Duration{1500 * time.Millisecond, 2500 * time.Millisecond},
			rect: Rect{X: 0.5, W: 0.5, H: 0.5},
		},
		{
			name: "a cut to mid grey is no flash",
			pics: []Picture{picture(0, 10, 0, 0, 0, 0, 0), picture(frame, 120, 0, 0, 0, 0, 0)},
		},
		{
			name: "a fade to white is no flash",
			pics: fade(),
		},
		{
			name: "three white cells are too few (a label, the ball)",
			pics: []Picture{picture(0, 0, 0, 0, 0, 0, 0), picture(frame, 0, 0, 0, 3, 1, 255)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := findFlashes(tc.pics)
			var at []time.Duration
			for _, f := range got {
				at = append(at, f.at)
			}
			if !slices.Equal(at, tc.want) {
				t.Fatalf("flashes at %v, want %v", at, tc.want)
			}
			if len(got) > 0 {
				if r := got[0].cells.rect(); r != tc.rect {
					t.Errorf("region %+v, want %+v", r, tc.rect)
				}
			}
		})
	}
}

func TestVideoHolesAndFreezes(t *testing.T) {
	const fps = 25
	frame := time.Second / fps
	moving := func(n int, from time.Duration) []Picture {
		var out []Picture
		for i := range n {
			out = append(out, picture(from+time.Duration(i)*frame, 0, i%GridW, 0, i%GridW+1, 2, 200))
		}
		return out
	}
	still := func(n int, from time.Duration) []Picture {
		var out []Picture
		for i := range n {
			out = append(out, picture(from+time.Duration(i)*frame, 50, 0, 0, 0, 0, 0))
		}
		return out
	}
	tests := []struct {
		name           string
		pics           []Picture
		holes, freezes []Gap
	}{
		{name: "smooth", pics: moving(50, 0)},
		{
			name:  "200 ms without frames",
			pics:  append(moving(10, 0), moving(10, 10*frame+200*time.Millisecond)...),
			holes: []Gap{{At: 0.36, Duration: 240}},
		},
		{
			name:  "two frames missing is no hole (3 frame durations)",
			pics:  append(moving(10, 0), moving(10, 12*frame)...),
			holes: nil,
		},
		{
			name:    "a second of the same picture",
			pics:    append(append(moving(10, 0), still(25, 10*frame)...), moving(10, 35*frame)...),
			freezes: []Gap{{At: 0.4, Duration: 1000}},
		},
		{
			name:    "frozen to the end",
			pics:    append(moving(5, 0), still(10, 5*frame)...),
			freezes: []Gap{{At: 0.2, Duration: 400}},
		},
		{
			name: "a 5-frame white flash is no freeze (under 200 ms)",
			pics: append(append(moving(5, 0), still(5, 5*frame)...), moving(5, 10*frame)...),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := frameDuration(tc.pics, fps)
			holes := videoHoles(tc.pics, 3*f, 0)
			fr := freezes(tc.pics, f, max(3*f, freezeMin), 0)
			if !slices.Equal(holes, tc.holes) {
				t.Errorf("holes %v, want %v", holes, tc.holes)
			}
			if !slices.Equal(fr, tc.freezes) {
				t.Errorf("freezes %v, want %v", fr, tc.freezes)
			}
		})
	}
}

func TestAudioJoinAndHoles(t *testing.T) {
	ms := time.Millisecond
	chunk := func(pts time.Duration) Chunk { return Chunk{PTS: pts, Samples: make([]int16, 960)} }
	tests := []struct {
		name    string
		chunks  []Chunk
		runs    int
		holes   []Gap
		samples int64
	}{
		{
			name:    "continuous",
			chunks:  []Chunk{chunk(0), chunk(20 * ms), chunk(40 * ms), chunk(60 * ms), chunk(80 * ms)},
			runs:    1,
			samples: 4800,
		},
		{
			name:    "Matroska's millisecond rounding is no break",
			chunks:  []Chunk{chunk(0), chunk(21 * ms), chunk(40 * ms), chunk(59 * ms), chunk(80 * ms)},
			runs:    1,
			samples: 4800,
		},
		{
			name:    "four frames lost (three are not a hole)",
			chunks:  []Chunk{chunk(0), chunk(20 * ms), chunk(120 * ms)},
			runs:    2,
			holes:   []Gap{{At: 0.04, Duration: 80}},
			samples: 2880,
		},
		{
			name:    "sound starts late",
			chunks:  []Chunk{chunk(80 * ms), chunk(100 * ms)},
			runs:    1,
			holes:   []Gap{{At: 0, Duration: 80}},
			samples: 1920,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runs, frame := joinChunks(tc.chunks)
			if len(runs) != tc.runs || frame != 20*ms {
				t.Fatalf("%d runs of %v frames, want %d of 20ms", len(runs), frame, tc.runs)
			}
			holes := audioHoles(runs, 0, 140*ms, max(3*frame, minAudioHole))
			if !slices.Equal(holes, tc.holes) {
				t.Errorf("holes %v, want %v", holes, tc.holes)
			}
			if n := samplesWithin(runs, 0, 140*ms); n != tc.samples {
				t.Errorf("samples in span %d, want %d", n, tc.samples)
			}
		})
	}
}
