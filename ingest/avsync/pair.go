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

// beepGroup is the beeps of one pattern source: one tone, one phase.
type beepGroup struct {
	hz    float64
	at    []time.Duration
	phase time.Duration // of the latest beep, within the second
}

// phaseWindow is how far a beep's place in the second may be from its
// group's last one: the pattern repeats every second, so a source's beeps
// keep their phase (but for jitter, and a slow drift followed beep by
// beep). Sources with close tones (a 100 ms beep tells tones less than
// ~40 Hz apart from each other poorly) are told apart by it.
const phaseWindow = 80 * time.Millisecond

// groupBeeps sorts beep onsets by tone, and within a tone by phase.
func groupBeeps(bs []beep) []*beepGroup {
	var out []*beepGroup
	for _, b := range bs {
		ph := b.at % time.Second
		i := slices.IndexFunc(out, func(g *beepGroup) bool {
			d := absDur(ph - g.phase)
			return g.hz == b.hz && min(d, time.Second-d) <= phaseWindow
		})
		if i < 0 {
			out = append(out, &beepGroup{hz: b.hz})
			i = len(out) - 1
		}
		out[i].at = append(out[i].at, b.at)
		out[i].phase = ph
	}
	return out
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

// nearTie is the offset step (ms) within which candidates rank by pairs.
const nearTie = 20.0

// exclusiveNear (ms): a pairing further off than this takes a region only
// once every tone has had its chance at one of its own.
const exclusiveNear = 125.0

// pairUp matches each beep group with a flashing region: the pairings with
// the smallest offset (to nearTie) and then the most pairs first, one region per tone
// while there are regions left (points flashing at different moments),
// shared after that (points flashing together). It returns a PointOffset
// per matched tone and every pair's offset.
func pairUp(regions []*region, bs []beep) (points []PointOffset, all []float64) {
	groups := groupBeeps(bs)
	type cand struct {
		tone int // group
		reg  int
		offs []float64
	}
	var cands []cand
	for ti, g := range groups {
		for ri, r := range regions {
			offs := offsetsTo(g.at, r.at)
			if len(offs) >= minPairs && 2*len(offs) >= len(g.at) {
				cands = append(cands, cand{ti, ri, offs})
			}
		}
	}
	// Nearest first, in steps of nearTie, then the most pairs. Every
	// candidate already pairs most of its tone's beeps; what tells a
	// point's own tile from a neighbour's is the offset: the neighbours
	// flash a quarter second apart (camsim's phases), a point's own
	// picture within the sync limits. Ranking by pairs first let a tone
	// with one pair more in a neighbour's tile (or a codec's ghost tone)
	// take a region first and push a point onto its neighbour's flash.
	slices.SortStableFunc(cands, func(a, b cand) int {
		if c := cmp.Compare(math.Round(math.Abs(median(a.offs))/nearTie), math.Round(math.Abs(median(b.offs))/nearTie)); c != 0 {
			return c
		}
		return cmp.Compare(len(b.offs), len(a.offs))
	})
	chosen := map[int]cand{}
	used := map[int]bool{}
	for _, shared := range []bool{false, true} {
		for _, c := range cands {
			if _, done := chosen[c.tone]; done || (!shared && used[c.reg]) {
				continue
			}
			// A region of its own goes only to a near pairing: a far one
			// (a neighbour's flash) must not take a free region before
			// the tone's own, held by a ghost tone, is offered shared.
			if !shared && math.Abs(median(c.offs)) > exclusiveNear {
				continue
			}
			chosen[c.tone], used[c.reg] = c, true
		}
	}
	// One tone flashing in one region is one source, whose beeps may have
	// fallen into two groups where its timing jumped.
	type key struct {
		hz  float64
		reg int
	}
	merged := map[key]int{}
	var offs [][]float64
	for ti, g := range groups {
		c, ok := chosen[ti]
		if !ok {
			continue
		}
		k := key{g.hz, c.reg}
		i, seen := merged[k]
		if !seen {
			i, merged[k] = len(points), len(points)
			points = append(points, PointOffset{ToneHz: math.Round(g.hz), Region: regions[c.reg].cells.rect()})
			offs = append(offs, nil)
		}
		offs[i] = append(offs[i], c.offs...)
		all = append(all, c.offs...)
	}
	for i := range points {
		points[i].Offset = summarise(offs[i])
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
