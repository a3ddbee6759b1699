package mixer

import (
	"fmt"
	"math"
)

// Layout names how the points share the composite picture.
type Layout string

// Layouts an operator can choose (docs/api.md: PUT …/layout).
const (
	// Grid gives every point an equal tile, for any number of points.
	Grid Layout = "grid"
	// Speaker shows the focus point large in the top-left corner with the
	// others down the right-hand side and along the bottom.
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

// speaker fills the whole picture: it is cut into k×k cells of the
// picture's own shape, the focus takes the top-left (k-1)×(k-1) of them and
// the others one cell each, down the right-hand column and along the bottom
// row. k is 4 (focus at ¾ × ¾) up to seven others and grows by one for every
// two more, so the L of cells stays full (at most one empty cell from eight
// points on) instead of leaving the black bars of a centred focus.
func speaker(tiles []Tile, focus, width, height int) {
	n := len(tiles)
	if n == 1 {
		tiles[focus] = Tile{Rect: Rect{0, 0, width, height}, Z: zStep, Visible: true}
		return
	}
	others := n - 1
	k := max(4, (others+2)/2) // 2k-1 cells in the L hold every other point
	// Cell edges at even(j·size/k): rounding only ever leaves a gap of a
	// pixel or two between cells, never an overlap.
	colX := func(j int) int { return (j * width / k) &^ 1 }
	rowY := func(j int) int { return (j * height / k) &^ 1 }
	cw, ch := cellShape((width/k)&^1, (height/k)&^1, width, height)
	// The last column and row sit flush with the picture's right and bottom
	// edges, so what rounding leaves over is a hairline inside, not a border.
	right, bottom := (width-cw)&^1, (height-ch)&^1
	tiles[focus] = Tile{Rect: Rect{0, 0, colX(k - 1), rowY(k - 1)}, Z: zStep, Visible: true}
	// The right-hand column takes the first k-1 others from the top; the rest
	// sit in the bottom row flush against the right, in order left to right.
	inColumn := min(others, k-1)
	inRow := others - inColumn
	k0 := 0
	for i := range tiles {
		if i == focus {
			continue
		}
		r := Rect{right, rowY(k0), cw, ch}
		if k0 >= inColumn {
			r = Rect{colX(k - inRow + k0 - inColumn), bottom, cw, ch}
			if k0 == others-1 {
				r.X = right
			}
		}
		tiles[i] = Tile{Rect: r, Z: zStep, Visible: true}
		k0++
	}
}

// cellShape trims a w×h cell, already on even pixels, so that it keeps the
// picture's width:height as closely as even sizes allow: rounding both sides
// down on their own stretches a small tile visibly (44×24 for 16:9).
func cellShape(w, h, width, height int) (int, int) {
	if w*height > h*width {
		return min(w, 2*((h*width+height)/(2*height))), h
	}
	return w, min(h, 2*((w*height+width)/(2*width)))
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
