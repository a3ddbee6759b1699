package avsync

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// pairWindow is how far a beep may be from its flash: half the pattern's
// one-second period, past which the pairing would be a guess.
const pairWindow = 500 * time.Millisecond

// minPairs is the fewest pairs that make a pattern source.
const minPairs = 2

// region is the flashes of one part of the picture: one pattern source in
// a composite, or the whole picture of a single feed.
type region struct {
	cells mask
	at    []time.Duration
}

// groupFlashes sorts flashes by where they are; a flash overlapping a
// region's first flash by a third or more belongs to it.
func groupFlashes(fl []flash) []*region {
	var out []*region
	for _, f := range fl {
		i := slices.IndexFunc(out, func(r *region) bool { return r.cells.overlap(&f.cells) >= 0.3 })
		if i < 0 {
			out = append(out, &region{cells: f.cells})
			i = len(out) - 1
		}
		out[i].at = append(out[i].at, f.at)
	}
	return out
}

// groupBeeps sorts beep onsets by tone, in the order the tones come.
func groupBeeps(bs []beep) (tones []float64, at map[float64][]time.Duration) {
	at = map[float64][]time.Duration{}
	for _, b := range bs {
		if _, ok := at[b.hz]; !ok {
			tones = append(tones, b.hz)
		}
		at[b.hz] = append(at[b.hz], b.at)
	}
	return tones, at
}

// offsetsTo pairs every beep with the nearest flash within pairWindow and
// returns beep minus flash in ms, in beep order.
func offsetsTo(beeps, flashes []time.Duration) []float64 {
	var out []float64
	for _, b := range beeps {
		i, _ := slices.BinarySearch(flashes, b)
		best := time.Duration(math.MaxInt64)
		for _, j := range []int{i - 1, i} {
			if j >= 0 && j < len(flashes) && absDur(b-flashes[j]) < absDur(best) {
				best = b - flashes[j]
			}
		}
		if absDur(best) <= pairWindow {
			out = append(out, ms(best))
		}
	}
	return out
}

// pairUp matches each beep tone with a flashing region: the pairings with
// the most pairs and then the smallest offset first, one region per tone
// while there are regions left (points flashing at different moments),
// shared after that (points flashing together). It returns a PointOffset
// per matched tone and every pair's offset.
func pairUp(regions []*region, bs []beep) (points []PointOffset, all []float64) {
	tones, at := groupBeeps(bs)
	type cand struct {
		tone int
		reg  int
		offs []float64
	}
	var cands []cand
	for ti, hz := range tones {
		for ri, r := range regions {
			offs := offsetsTo(at[hz], r.at)
			if len(offs) >= minPairs && 2*len(offs) >= len(at[hz]) {
				cands = append(cands, cand{ti, ri, offs})
			}
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		if c := cmp.Compare(len(b.offs), len(a.offs)); c != 0 {
			return c
		}
		return cmp.Compare(math.Abs(median(a.offs)), math.Abs(median(b.offs)))
	})
	chosen := map[int]cand{}
	used := map[int]bool{}
	for _, shared := range []bool{false, true} {
		for _, c := range cands {
			if _, done := chosen[c.tone]; done || (!shared && used[c.reg]) {
				continue
			}
			chosen[c.tone], used[c.reg] = c, true
		}
	}
	for ti, hz := range tones {
		c, ok := chosen[ti]
		if !ok {
			continue
		}
		points = append(points, PointOffset{ToneHz: math.Round(hz), Region: regions[c.reg].cells.rect(), Offset: summarise(c.offs)})
		all = append(all, c.offs...)
	}
	return points, all
}

// summarise is the median, extremes and standard deviation of offsets.
func summarise(offs []float64) Offset {
	if len(offs) == 0 {
		return Offset{}
	}
	var sum, sq float64
	for _, v := range offs {
		sum += v
	}
	mean := sum / float64(len(offs))
	for _, v := range offs {
		sq += (v - mean) * (v - mean)
	}
	return Offset{
		Median: round1(median(offs)), Min: round1(slices.Min(offs)), Max: round1(slices.Max(offs)),
		Stdev: round1(math.Sqrt(sq / float64(len(offs)))), Pairs: len(offs),
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
