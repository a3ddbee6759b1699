package mixer

import (
	"fmt"
	"math"
)

// Layout names how the points share the composite picture.
type Layout string

// Layouts an operator can choose (CONTRACT.md: PUT …/layout).
const (
	// Grid gives every point an equal tile, for any number of points.
	Grid Layout = "grid"
	// Speaker shows the focus point large with the others in a strip below.
	Speaker Layout = "speaker"
	// PIP shows the focus point full-screen with one other point inset.
	PIP Layout = "pip"
	// Single shows the focus point alone.
	Single Layout = "single"
)

// Layouts lists the valid layouts, for validation messages.
func Layouts() []Layout { return []Layout{Grid, Speaker, PIP, Single} }

// Valid reports whether l is a known layout.
func (l Layout) Valid() bool {
	switch l {
	case Grid, Speaker, PIP, Single:
		return true
	}
	return false
}

// Rect is a region of the composite in pixels.
type Rect struct{ X, Y, W, H int }

func (r Rect) String() string { return fmt.Sprintf("%dx%d+%d+%d", r.W, r.H, r.X, r.Y) }

// Contains reports whether (x, y) lies inside r.
func (r Rect) Contains(x, y int) bool {
	return x >= r.X && x < r.X+r.W && y >= r.Y && y < r.Y+r.H
}

// Tile is where one point appears. A hidden tile is not drawn at all.
type Tile struct {
	Rect
	// Z orders tiles: a higher Z is drawn over a lower one.
	Z       int
	Visible bool
}

// zStep leaves room between tiles for a tile's slate (drawn at Z+1).
const zStep = 10

// Arrange places n points on a width×height picture. focus is the index of
// the focus point (speaker, pip, single); an out-of-range focus means the
// first point. The result has one Tile per point, in point order. Pictures
// keep their aspect ratio inside their tile (letterboxed by the compositor),
// so a tile only fixes the region, not the camera's shape.
func Arrange(l Layout, n, focus, width, height int) []Tile {
	if n <= 0 {
		return nil
	}
	if focus < 0 || focus >= n {
		focus = 0
	}
	tiles := make([]Tile, n)
	switch l {
	case Speaker:
		speaker(tiles, focus, width, height)
	case PIP:
		pip(tiles, focus, width, height)
	case Single:
		tiles[focus] = Tile{Rect: Rect{0, 0, width, height}, Z: zStep, Visible: true}
	default:
		grid(tiles, width, height)
	}
	return tiles
}

// GridShape is the columns and rows of a grid of n tiles: as square as the
// count allows, wider than tall (4 → 2×2, 5 → 3×2, 10 → 4×3).
func GridShape(n int) (cols, rows int) {
	if n <= 0 {
		return 0, 0
	}
	cols = int(math.Ceil(math.Sqrt(float64(n))))
	rows = (n + cols - 1) / cols
	return cols, rows
}

func grid(tiles []Tile, width, height int) {
	n := len(tiles)
	cols, rows := GridShape(n)
	cw, ch := width/cols, height/rows
	for i := range tiles {
		row, col := i/cols, i%cols
		inRow := cols
		if row == rows-1 {
			inRow = n - row*cols
		}
		// A short last row is centred rather than left-aligned.
		x0 := (width - inRow*cw) / 2
		tiles[i] = Tile{Rect: even(Rect{x0 + col*cw, row * ch, cw, ch}), Z: zStep, Visible: true}
	}
}

// speaker puts the focus in the top three quarters, centred, and the others
// in a strip along the bottom quarter: at most four fill the strip at the
// focus's aspect; more share it in narrower tiles.
func speaker(tiles []Tile, focus, width, height int) {
	n := len(tiles)
	if n == 1 {
		tiles[focus] = Tile{Rect: Rect{0, 0, width, height}, Z: zStep, Visible: true}
		return
	}
	mainW, mainH := width*3/4, height*3/4
	tiles[focus] = Tile{Rect: even(Rect{(width - mainW) / 2, 0, mainW, mainH}), Z: zStep, Visible: true}
	others := n - 1
	tw := min(width/4, width/others)
	x0 := (width - others*tw) / 2
	k := 0
	for i := range tiles {
		if i == focus {
			continue
		}
		tiles[i] = Tile{Rect: even(Rect{x0 + k*tw, mainH, tw, height - mainH}), Z: zStep, Visible: true}
		k++
	}
}

// pip shows the focus full-screen and the first other point in a quarter-size
// inset at the bottom right, over it.
func pip(tiles []Tile, focus, width, height int) {
	tiles[focus] = Tile{Rect: Rect{0, 0, width, height}, Z: zStep, Visible: true}
	for i := range tiles {
		if i == focus {
			continue
		}
		w, h := width/4, height/4
		margin := height / 24
		tiles[i] = Tile{Rect: even(Rect{width - w - margin, height - h - margin, w, h}), Z: 2 * zStep, Visible: true}
		return
	}
}

// even rounds a rectangle to even coordinates and sizes: the composite is
// 4:2:0, where an odd edge smears chroma across the neighbouring tile.
func even(r Rect) Rect {
	return Rect{X: r.X &^ 1, Y: r.Y &^ 1, W: r.W &^ 1, H: r.H &^ 1}
}
