package mixer

import (
	"testing"
)

func TestGridShape(t *testing.T) {
	tests := []struct {
		n, cols, rows int
	}{
		{0, 0, 0}, {1, 1, 1}, {2, 2, 1}, {3, 2, 2}, {4, 2, 2}, {5, 3, 2},
		{6, 3, 2}, {7, 3, 3}, {9, 3, 3}, {10, 4, 3}, {16, 4, 4}, {17, 5, 4},
	}
	for _, tt := range tests {
		c, r := GridShape(tt.n)
		if c != tt.cols || r != tt.rows {
			t.Errorf("GridShape(%d) = %d×%d, want %d×%d", tt.n, c, r, tt.cols, tt.rows)
		}
	}
}

func TestArrange(t *testing.T) {
	const w, h = 1280, 720
	tests := []struct {
		name   string
		layout Layout
		n      int
		focus  int
		want   []Tile
	}{
		{"grid of one fills the picture", Grid, 1, 0, []Tile{
			{Rect{0, 0, 1280, 720}, zStep, true},
		}},
		{"grid of four is 2x2", Grid, 4, 2, []Tile{
			{Rect{0, 0, 640, 360}, zStep, true},
			{Rect{640, 0, 640, 360}, zStep, true},
			{Rect{0, 360, 640, 360}, zStep, true},
			{Rect{640, 360, 640, 360}, zStep, true},
		}},
		{"grid of three centres the short row", Grid, 3, 0, []Tile{
			{Rect{0, 0, 640, 360}, zStep, true},
			{Rect{640, 0, 640, 360}, zStep, true},
			{Rect{320, 360, 640, 360}, zStep, true},
		}},
		{"grid of five is 3x2 with even edges", Grid, 5, 0, []Tile{
			{Rect{0, 0, 426, 360}, zStep, true},
			{Rect{426, 0, 426, 360}, zStep, true},
			{Rect{852, 0, 426, 360}, zStep, true},
			{Rect{214, 360, 426, 360}, zStep, true},
			{Rect{640, 360, 426, 360}, zStep, true},
		}},
		{"speaker with focus in the middle", Speaker, 3, 1, []Tile{
			{Rect{960, 0, 320, 180}, zStep, true},
			{Rect{0, 0, 960, 540}, zStep, true},
			{Rect{960, 180, 320, 180}, zStep, true},
		}},
		{"speaker alone is full-screen", Speaker, 1, 0, []Tile{
			{Rect{0, 0, 1280, 720}, zStep, true},
		}},
		{"speaker with six turns the corner", Speaker, 6, 0, []Tile{
			{Rect{0, 0, 960, 540}, zStep, true},
			{Rect{960, 0, 320, 180}, zStep, true},
			{Rect{960, 180, 320, 180}, zStep, true},
			{Rect{960, 360, 320, 180}, zStep, true},
			{Rect{640, 540, 320, 180}, zStep, true},
			{Rect{960, 540, 320, 180}, zStep, true},
		}},
		{"speaker with eight fills the frame", Speaker, 8, 7, []Tile{
			{Rect{960, 0, 320, 180}, zStep, true},
			{Rect{960, 180, 320, 180}, zStep, true},
			{Rect{960, 360, 320, 180}, zStep, true},
			{Rect{0, 540, 320, 180}, zStep, true},
			{Rect{320, 540, 320, 180}, zStep, true},
			{Rect{640, 540, 320, 180}, zStep, true},
			{Rect{960, 540, 320, 180}, zStep, true},
			{Rect{0, 0, 960, 540}, zStep, true},
		}},
		{"speaker with nine cuts fifths", Speaker, 9, 0, []Tile{
			{Rect{0, 0, 1024, 576}, zStep, true},
			{Rect{1024, 0, 256, 144}, zStep, true},
			{Rect{1024, 144, 256, 144}, zStep, true},
			{Rect{1024, 288, 256, 144}, zStep, true},
			{Rect{1024, 432, 256, 144}, zStep, true},
			{Rect{256, 576, 256, 144}, zStep, true},
			{Rect{512, 576, 256, 144}, zStep, true},
			{Rect{768, 576, 256, 144}, zStep, true},
			{Rect{1024, 576, 256, 144}, zStep, true},
		}},
		{"pip insets the first other point", PIP, 3, 1, []Tile{
			{Rect{930, 510, 320, 180}, 2 * zStep, true},
			{Rect{0, 0, 1280, 720}, zStep, true},
			{},
		}},
		{"single hides the others", Single, 3, 2, []Tile{
			{}, {},
			{Rect{0, 0, 1280, 720}, zStep, true},
		}},
		{"unknown focus means the first point", Single, 2, 7, []Tile{
			{Rect{0, 0, 1280, 720}, zStep, true},
			{},
		}},
		{"no points, no tiles", Grid, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Arrange(tt.layout, tt.n, tt.focus, w, h)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d tiles, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("tile %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// Every layout, for any count, keeps visible tiles inside the picture, on
// even pixels, and (except the pip inset) without overlapping each other.
func TestArrangeInvariants(t *testing.T) {
	for _, l := range Layouts() {
		for n := 1; n <= 25; n++ {
			for _, size := range [][2]int{{1280, 720}, {320, 180}, {1920, 1080}} {
				tiles := Arrange(l, n, n-1, size[0], size[1])
				visible := 0
				for i, a := range tiles {
					if !a.Visible {
						continue
					}
					visible++
					if a.W <= 0 || a.H <= 0 || a.X < 0 || a.Y < 0 || a.X+a.W > size[0] || a.Y+a.H > size[1] {
						t.Fatalf("%s n=%d %v: tile %d %v outside the picture", l, n, size, i, a.Rect)
					}
					if a.X%2 != 0 || a.Y%2 != 0 || a.W%2 != 0 || a.H%2 != 0 {
						t.Fatalf("%s n=%d: tile %d %v not on even pixels", l, n, i, a.Rect)
					}
					for j, b := range tiles[:i] {
						if b.Visible && a.Z == b.Z && overlap(a.Rect, b.Rect) {
							t.Fatalf("%s n=%d: tiles %d %v and %d %v overlap", l, n, j, b.Rect, i, a.Rect)
						}
					}
				}
				want := map[Layout]int{Grid: n, Speaker: n, PIP: min(n, 2), Single: 1}[l]
				if visible != want {
					t.Fatalf("%s n=%d: %d visible tiles, want %d", l, n, visible, want)
				}
			}
		}
	}
}

// The speaker layout uses the whole frame: the focus in the top-left corner
// and largest, every tile the frame's shape, and from eight points on at most
// one cell of the frame left black.
func TestSpeakerFillsFrame(t *testing.T) {
	for _, size := range [][2]int{{1280, 720}, {320, 180}, {1920, 1080}} {
		w, h := size[0], size[1]
		for n := 2; n <= 16; n++ {
			focus := n / 2
			tiles := Arrange(Speaker, n, focus, w, h)
			f := tiles[focus].Rect
			if f.X != 0 || f.Y != 0 {
				t.Fatalf("%v n=%d: focus %v not in the top-left corner", size, n, f)
			}
			area := 0
			for i, tl := range tiles {
				area += tl.W * tl.H
				if aspect := float64(tl.W) / float64(tl.H); aspect < 16.0/9*0.97 || aspect > 16.0/9*1.03 {
					t.Errorf("%v n=%d: tile %d %v is not 16:9 (%.3f)", size, n, i, tl.Rect, aspect)
				}
				if i != focus && tl.W*tl.H*4 > f.W*f.H {
					t.Errorf("%v n=%d: tile %d %v not well below the focus %v", size, n, i, tl.Rect, f)
				}
				if i != focus && tl.X+tl.W < w-2 && tl.Y+tl.H < h-2 {
					t.Errorf("%v n=%d: tile %d %v neither on the right nor along the bottom", size, n, i, tl.Rect)
				}
			}
			if fw := float64(f.W) / float64(w); fw < 0.74 || fw > 0.9 {
				t.Errorf("%v n=%d: focus %.2f of the width, want ¾ to ⅞", size, n, fw)
			}
			cover := float64(area) / float64(w*h)
			// Up to seven others the focus stays at ¾ × ¾ and each other
			// point adds a sixteenth; past that the L of cells is full but for
			// at most one cell (1/25 at nine points). Rounding to even pixels
			// costs a little at 320×180.
			want := 0.96 - 0.03
			if n < 8 {
				want = (9+float64(n-1))/16 - 0.03
			}
			if cover < want {
				t.Errorf("%v n=%d: tiles cover %.3f of the frame, want ≥ %.3f", size, n, cover, want)
			}
		}
	}
}

func overlap(a, b Rect) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

func TestLayoutValid(t *testing.T) {
	for _, l := range Layouts() {
		if !l.Valid() {
			t.Errorf("%q not valid", l)
		}
	}
	for _, l := range []Layout{"", "Grid", "mosaic"} {
		if l.Valid() {
			t.Errorf("%q valid", l)
		}
	}
}
