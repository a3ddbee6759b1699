package avsync

import (
	"math/bits"
	"time"
)

// A flash is a jump to white of at least flashCells cells at once, each
// rising by flashRise to flashWhite or more: a whole pattern picture, or a
// tile of one in a composite, and not the pattern's grey ball or a label.
const (
	flashRise  = 80
	flashWhite = 160
	flashCells = 4
)

// freezeMin is the shortest freeze reported besides 3 frame durations: a
// pattern's flash holds one white picture for 100 ms, a mixer may show it a
// frame longer.
const freezeMin = 200 * time.Millisecond

// mask is a set of cells.
type mask [(GridW*GridH + 63) / 64]uint64

func (m *mask) set(i int)      { m[i/64] |= 1 << (i % 64) }
func (m *mask) has(i int) bool { return m[i/64]&(1<<(i%64)) != 0 }

func (m *mask) count() int {
	n := 0
	for _, w := range m {
		n += bits.OnesCount64(w)
	}
	return n
}

// overlap is the Jaccard index of two masks.
func (m *mask) overlap(o *mask) float64 {
	var and, or int
	for i := range m {
		and += bits.OnesCount64(m[i] & o[i])
		or += bits.OnesCount64(m[i] | o[i])
	}
	if or == 0 {
		return 0
	}
	return float64(and) / float64(or)
}

// rect is the bounding box of the mask in fractions of the picture.
func (m *mask) rect() Rect {
	x0, y0, x1, y1 := GridW, GridH, -1, -1
	for i := range GridW * GridH {
		if m.has(i) {
			x, y := i%GridW, i/GridW
			x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
		}
	}
	if x1 < 0 {
		return Rect{}
	}
	return Rect{X: round3(float64(x0) / GridW), Y: round3(float64(y0) / GridH),
		W: round3(float64(x1-x0+1) / GridW), H: round3(float64(y1-y0+1) / GridH)}
}

// flash is the first white picture of a flash and where it is.
type flash struct {
	at    time.Duration
	cells mask
}

func findFlashes(pics []Picture) []flash {
	var out []flash
	for i := 1; i < len(pics); i++ {
		prev, cur := pics[i-1].Luma, pics[i].Luma
		if len(prev) != len(cur) {
			continue
		}
		var f flash
		for c := range cur {
			if int(cur[c])-int(prev[c]) >= flashRise && cur[c] >= flashWhite {
				f.cells.set(c)
			}
		}
		if f.cells.count() >= flashCells {
			f.at = pics[i].PTS
			out = append(out, f)
		}
	}
	return out
}

// frameDuration is 1/fps as declared, else the typical step between PTS.
func frameDuration(pics []Picture, fps float64) time.Duration {
	if fps > 0 {
		return time.Duration(float64(time.Second) / fps)
	}
	steps := make([]time.Duration, 0, len(pics))
	for i := 1; i < len(pics); i++ {
		steps = append(steps, pics[i].PTS-pics[i-1].PTS)
	}
	return median(steps)
}

// videoHoles are jumps between consecutive pictures longer than min.
func videoHoles(pics []Picture, min time.Duration, origin time.Duration) []Gap {
	var out []Gap
	for i := 1; i < len(pics); i++ {
		if d := pics[i].PTS - pics[i-1].PTS; d > min {
			out = append(out, gapOf(pics[i-1].PTS, pics[i].PTS, origin))
		}
	}
	return out
}

// freezes are stretches where the picture does not change (no cell by
// more than one step) for longer than min: from the first of the same
// pictures to one frame past the last.
func freezes(pics []Picture, frame, min time.Duration, origin time.Duration) []Gap {
	var out []Gap
	for i := 0; i < len(pics); {
		j := i + 1
		for j < len(pics) && same(pics[i].Luma, pics[j].Luma) {
			j++
		}
		// The frames' own span: a hole in the timestamps is a hole, not
		// also a freeze.
		end := pics[j-1].PTS + frame
		if end-pics[i].PTS > min {
			out = append(out, gapOf(pics[i].PTS, end, origin))
		}
		i = j
	}
	return out
}

func same(a, b []uint8) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := int(a[i]) - int(b[i]); d > 1 || d < -1 {
			return false
		}
	}
	return true
}
